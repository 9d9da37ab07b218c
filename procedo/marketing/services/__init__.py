"""Every marketing write, each recording its event in its transaction: segments (segments),
RFM scores (rfm), campaigns (campaigns) and the product ladder (ladder); what they share
(_common)."""
