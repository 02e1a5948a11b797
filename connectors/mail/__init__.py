"""Email connectors: complaint letters and PALS emails from an IMAP mailbox."""
