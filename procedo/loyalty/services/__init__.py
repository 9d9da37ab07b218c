"""Every write of loyalty: the programme's terms, tiers, membership, referrals and rewards.

- programme: its terms and tiers, and each member's tier recomputed from spend in the window
- membership: entering the programme; reacting to orders; moving it at a merge
- referrals: referral codes, and orders attributed to them
- rewards: rewards credited once for a referral and used once on an order
"""
