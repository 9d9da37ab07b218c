"""Every write of sales: pipelines, leads, deals, meetings and what each channel cost.

- pipelines: pipelines, their stages, lost reasons and lead forms
- leads: leads created, imported or submitted by a form, contacted, qualified or disqualified
- deals: deals created, edited and moved through the stages
- meetings: meetings booked, with the customer's confirmation and reminders
- spend: what each channel cost a month, typed or imported
- _common: what several of these share
"""
