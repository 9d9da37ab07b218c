"""Every integrations write: connections managed by people (connections), deliveries
received and stored (receiving), processed by the worker (processing), and the test a
person sends a connection (testing); what they share (_common)."""
