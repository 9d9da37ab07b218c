"""Every write of support: conversations, the tickets they become, and satisfaction.

- threads: the reply address and headers that thread a customer's answer to its conversation
- intake: taking messages in (email, SMS, the inbox consumer), and who sent them
- conversations: answering, notes, assigning and moving a conversation
- tickets: tickets, their priority and SLA clocks, the SLA sweep, and the settings behind them
- satisfaction: the survey after a ticket is solved, and its answer
- _common: what several of these share
"""
