// Package templates owns reply templates (per channel or global) and their
// rendering. Templates are written by users, so rendering is plain substitution of
// a fixed set of variables ({{contact.name}}, {{ticket.number}} …): no logic, no
// function calls, nothing a template author could use to run code or read data
// the variables do not offer. Unknown variables are refused before anything is sent.
package templates
