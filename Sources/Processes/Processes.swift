// The process runtime: mailboxes, spawn, monitor/link, routing by PID and local name.
