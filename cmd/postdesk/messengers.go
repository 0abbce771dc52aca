package main

import "github.com/postdesk/postdesk/messengers"

// messengerReceiver wires the messenger adapters to the domain and the blob store.
func (a *app) messengerReceiver() *messengers.Receiver {
	if a.receiver == nil {
		a.receiver = &messengers.Receiver{Tickets: a.tickets, Blobs: a.blobs, Registry: messengers.NewRegistry(nil),
			Log: a.log}
	}
	return a.receiver
}
