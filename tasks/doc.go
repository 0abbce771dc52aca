// Package tasks holds every background job: asynq task types, their typed
// constructors and handlers, the queues they run on, and the periodic sweepers.
//
// Redis holds queues only. Every handler re-reads state from Postgres and is
// idempotent, and every kind of delayed work has a sweeper that rebuilds what is due
// from Postgres, so a flushed Redis or a crash loses nothing.
package tasks
