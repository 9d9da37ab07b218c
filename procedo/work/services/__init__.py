"""Every write of work: a task's life (lifecycle), escalation of late tasks, hand-over."""
