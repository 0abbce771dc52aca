package mail

// Temporary until the intake lands: the shape of the intake's Arrival.

type pollArrival struct {
	MailboxIDs                              []int64
	Source                                  string
	EnvelopeFrom                            string
	IMAPMailboxID, IMAPUIDValidity, IMAPUID int64
}

const pollSourceIMAP = "imap"
