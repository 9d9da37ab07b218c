"""Every write to the event log and its consumers: recording events (recording), moving
the consumers along the log (consumers), a person's answer to an event a consumer could
not handle (failures), and the events of a list leaving as a file (exports)."""
