"""The library's words, for makemessages (it cannot read JSON).

Written by `procedo sops_library --strings > procedo/sops/library/strings.py`;
procedo/sops/tests/test_library.py fails when it differs from the files. Nothing
imports it: the files are the source, and django.po carries the translations.
"""

from django.utils.translation import gettext_noop

WORDS = (
    # after_delivery.json
    gettext_noop("After delivery: thank-you, check-ins at 30, 60 and 90 days, review request"),
    gettext_noop(
        "Every buyer hears from us the day after delivery and at 30, 60 and 90 days; more "
        "of them leave a review and buy again within 90 days."
    ),
    gettext_noop(
        "A buyer who is thanked and asked how the purchase serves them comes back more "
        "often, and a problem heard early is a review saved."
    ),
    gettext_noop("Thank-you email after delivery"),
    gettext_noop(
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}, "
        "thank you for your purchase!"
    ),
    gettext_noop(
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}!\n"
        "\n"
        "Your order {{ order.number }} has been delivered. Thank you for choosing "
        "{{ business.name }}: for a small shop it really matters.\n"
        "\n"
        "If anything is wrong with it, reply to this email: we will sort it out within a "
        "working day, no questions asked.\n"
        "\n"
        "Kind regards,\n"
        "the {{ business.name }} team"
    ),
    gettext_noop("Wait until day 30"),
    gettext_noop("Day 30: how is the purchase, and a review request"),
    gettext_noop("A month with your purchase: how do you like it?"),
    gettext_noop(
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}!\n"
        "\n"
        "It has been a month since you received order {{ order.number }}. How do you like "
        "your purchase?\n"
        "\n"
        "We would be very grateful for an honest review: it takes two minutes, helps other "
        "buyers choose and helps us get better. Just reply to this email: what you liked "
        "and what we could improve.\n"
        "\n"
        "Kind regards,\n"
        "the {{ business.name }} team"
    ),
    gettext_noop("Wait until day 60"),
    gettext_noop("Day 60: tips and care"),
    gettext_noop("A few tips to make your purchase last longer"),
    gettext_noop(
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}!\n"
        "\n"
        "Two months ago you received order {{ order.number }}. A few tips to make it last "
        "longer: keep it as the instructions on the packaging say, and if you have "
        "questions about care or use, write to us and we will help.\n"
        "\n"
        "If you have any questions, just reply to this email: we are here to help.\n"
        "\n"
        "Kind regards,\n"
        "the {{ business.name }} team"
    ),
    gettext_noop("Wait until day 90"),
    gettext_noop("Day 90: thanks and a gift"),
    gettext_noop("Three months together: a small gift"),
    gettext_noop(
        # xgettext:no-python-format
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}!\n"
        "\n"
        "Thank you for being with {{ business.name }} for three months already. As a token "
        "of thanks, the code THANKS10 gives you −10% on your next order for 14 days.\n"
        "\n"
        "We will be glad to see you again!\n"
        "\n"
        "Kind regards,\n"
        "the {{ business.name }} team"
    ),
    gettext_noop("Bought again within these three months?"),
    gettext_noop("Call: how is the purchase after 3 months"),
    gettext_noop(
        "The customer has not bought for three months since this order. Call without "
        "selling: thank them, ask how the purchase serves them, and write down the "
        "answers: they stay on the order's card."
    ),
    gettext_noop("How satisfied the customer is"),
    gettext_noop("Very satisfied"),
    gettext_noop("Satisfied"),
    gettext_noop("Has remarks"),
    gettext_noop("Not satisfied"),
    gettext_noop("What the customer said (in their words)"),
    gettext_noop("Agrees to receive our offers"),
    # next_product.json
    gettext_noop("Next-product offer a week after delivery"),
    gettext_noop(
        "A week after delivery the buyer gets an offer for what usually comes next, with a "
        "discount; more second orders within 30 days."
    ),
    gettext_noop(
        "The weeks after a good delivery are when a buyer is most likely to buy again. "
        "Until analytics computes the product ladder, a simple rule chooses the offer: "
        "regular customers get a bigger one."
    ),
    gettext_noop("Regular customer (3+ orders)?"),
    gettext_noop("Next-product offer"),
    gettext_noop("What else your purchase needs"),
    gettext_noop(
        # xgettext:no-python-format
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}!\n"
        "\n"
        "Buyers who chose what you chose usually add supplies and accessories, so that the "
        "purchase works to the full.\n"
        "\n"
        "Here is −10% on your next order with the code NEXT10, valid for 14 days.\n"
        "\n"
        "Kind regards,\n"
        "the {{ business.name }} team"
    ),
    gettext_noop("Offer for a regular customer"),
    # xgettext:no-python-format
    gettext_noop("For regulars: new arrivals and −15%"),
    gettext_noop(
        # xgettext:no-python-format
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}!\n"
        "\n"
        "You are not new here: thank you! We have picked new arrivals that go with your "
        "earlier purchases, and give you −15% with the code LOYAL15 (valid for 14 days).\n"
        "\n"
        "Kind regards,\n"
        "the {{ business.name }} team"
    ),
    gettext_noop("Wait 14 days"),
    gettext_noop("Used the offer?"),
    gettext_noop("SMS reminder about the discount"),
    gettext_noop(
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}! "
        "A reminder: your {{ business.name }} discount on your next order is valid for a "
        "few more days."
    ),
    # order_fulfilment.json
    gettext_noop("New order: confirm within 15 minutes, pack, ship, send tracking"),
    gettext_noop(
        "Every new order is confirmed by phone within 15 minutes, packed without mistakes "
        "and shipped within a working day; the customer gets the tracking number by email."
    ),
    gettext_noop(
        "Unconfirmed orders are cancelled twice as often, a call catches a wrong address "
        "before the parcel travels, and a checked parcel does not come back."
    ),
    gettext_noop("Confirm the order by phone"),
    gettext_noop(
        "Call within 15 minutes of the order.\n"
        "\n"
        "Script:\n"
        "1. “Good afternoon, [name]! This is [your name] from [store]. Thank you for your "
        "order: I would like to confirm it quickly, it takes a minute.”\n"
        "2. Check what was ordered: items, quantities, size and colour.\n"
        "3. Check the address or the carrier's branch, and the recipient's phone.\n"
        "4. Check how they will pay.\n"
        "5. “We will ship on [date]; we will email you the tracking number.”\n"
        "\n"
        "No answer: let it ring 6 times and mark “could not get through”: the SOP sends an "
        "SMS and reminds you to call again in 2 hours."
    ),
    gettext_noop("Outcome of the call"),
    gettext_noop("The customer confirmed the order"),
    gettext_noop("The customer asks to change the order"),
    gettext_noop("Could not get through"),
    gettext_noop("How the customer pays"),
    gettext_noop("Online payment"),
    gettext_noop("Cash on delivery"),
    gettext_noop("Invoice for a company"),
    gettext_noop("Order not confirmed yet?"),
    gettext_noop("Mark the order confirmed"),
    gettext_noop("Pick and check the parcel"),
    gettext_noop(
        "Pick the order line by line from its card. Check each point and mark it “passed” "
        "or “failed”. If even one fails, the SOP sends the parcel to be fixed and then to "
        "be checked again."
    ),
    gettext_noop("Items and quantities match the order"),
    gettext_noop("Compare the SKU, size, colour and quantity with each line."),
    gettext_noop("The goods are whole, without defects, in their factory packaging"),
    gettext_noop("The receipt or invoice and a thank-you card are inside"),
    gettext_noop("The packaging is sound"),
    gettext_noop("Fragile goods in bubble wrap, empty space filled."),
    gettext_noop("The address and phone on the label are the ones the customer confirmed"),
    gettext_noop("Order not marked packed yet?"),
    gettext_noop("Mark the order packed"),
    gettext_noop("Create the waybill and hand the parcel to the carrier"),
    gettext_noop(
        "Create the shipment on the order's card (carrier and waybill number): the "
        "customer gets the tracking number from it. Hand the parcel to the courier or the "
        "branch before 17:00 so that it leaves today."
    ),
    gettext_noop("Waybill created, its number entered on the order's card"),
    gettext_noop("Parcel handed to the carrier"),
    gettext_noop("Send the customer the tracking number"),
    gettext_noop("Order {{ order.number }} is on its way"),
    gettext_noop(
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}, "
        "your order {{ order.number }} has been handed to the carrier.\n"
        "\n"
        "{% if order.tracking_number %}Tracking number: {{ order.tracking_number }}\n"
        "{% if order.tracking_url %}Follow the parcel: {{ order.tracking_url }}\n"
        "{% endif %}\n"
        "{% endif %}Delivery within the country usually takes 1–3 days; the carrier will "
        "text you when the parcel arrives.\n"
        "\n"
        "If you have any questions, just reply to this email: we are here to help.\n"
        "\n"
        "Kind regards,\n"
        "the {{ business.name }} team"
    ),
    gettext_noop("Change the order"),
    gettext_noop(
        "Change the order as the customer asked (items, quantities, address, delivery) and "
        "recalculate the total. Tell the customer the new total and the shipping date. Out "
        "of stock: offer a replacement at a similar price."
    ),
    gettext_noop("SMS: could not get through"),
    gettext_noop(
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}! "
        "This is {{ business.name }}. We could not reach you to confirm order "
        "{{ order.number }}. Call us back or reply to this SMS and we will ship it at once."
    ),
    gettext_noop("Wait 2 hours"),
    gettext_noop("Second call to confirm"),
    gettext_noop(
        "The customer did not answer the first call and got an SMS. Try again; if they "
        "called back themselves, mark the outcome of that call."
    ),
    gettext_noop("Still no answer"),
    gettext_noop("Decide what to do with the unconfirmed order"),
    gettext_noop(
        "The customer answers neither calls nor SMS. Look at their card: if the order is "
        "paid online or they have bought before, ship without confirmation. Otherwise "
        "cancel the order on its card (cancelling stops this SOP and returns the goods to "
        "stock)."
    ),
    gettext_noop("What we do with the order"),
    gettext_noop("Ship without confirmation"),
    gettext_noop("Cancel the order"),
    gettext_noop("Fix the mistake in the parcel"),
    gettext_noop(
        "The parcel failed its check. Fix what is marked “failed”: replace an item, add "
        "what is missing, repack. The SOP then asks for the parcel to be checked again."
    ),
    # complaint.json
    gettext_noop("Complaint handling: answer within 2 hours, fix, follow up"),
    gettext_noop(
        "Every complaint is acknowledged at once, its facts are gathered within 2 hours, a "
        "remedy is decided the same day, and three days later we ask whether it is solved."
    ),
    gettext_noop(
        "A complaint solved quickly makes a more loyal customer than one who never had a "
        "problem; an unanswered one becomes a public review."
    ),
    gettext_noop("Tag as “complaint”"),
    gettext_noop("Email: we received your message"),
    gettext_noop("We have received your message"),
    gettext_noop(
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}!\n"
        "\n"
        "Thank you for telling us about the problem, and we are sorry it happened. We are "
        "already looking into it and will answer within 2 hours during working hours.\n"
        "\n"
        "If you have photos or a video, send them in reply to this email: it will speed up "
        "the solution.\n"
        "\n"
        "Kind regards,\n"
        "the {{ business.name }} team"
    ),
    gettext_noop("Gather the details of the complaint"),
    gettext_noop(
        "Hear the customer out; do not interrupt or make excuses. Repeat in your own words "
        "how you understood the problem. The answers stay on the customer's card: a "
        "manager will decide how to put things right."
    ),
    gettext_noop("Order number"),
    gettext_noop("Reason for the complaint"),
    gettext_noop("Damaged goods"),
    gettext_noop("Wrong item or something missing"),
    gettext_noop("Late delivery"),
    gettext_noop("Quality of the goods"),
    gettext_noop("Service"),
    gettext_noop("Other reason"),
    gettext_noop("What happened (in the customer's words)"),
    gettext_noop("Has photos or a video"),
    gettext_noop("What the customer wants"),
    gettext_noop("Replacement"),
    gettext_noop("A refund"),
    gettext_noop("Discount or compensation"),
    gettext_noop("An explanation and an apology"),
    gettext_noop("Decide how to put things right"),
    gettext_noop(
        "Read the details on the customer's card. The rule: our mistake, we fix it at our "
        "cost without argument; in doubt, decide in the customer's favour if that costs "
        "less than losing the customer."
    ),
    gettext_noop("Decision"),
    gettext_noop("Replace the item"),
    gettext_noop("Refund the money"),
    gettext_noop("A discount or a gift"),
    gettext_noop("Explain and apologise"),
    gettext_noop("Send a replacement"),
    gettext_noop(
        "Create a replacement order at zero price, ship it first in the queue and give the "
        "customer its waybill number. We pay for the return of the faulty item."
    ),
    gettext_noop(
        "Refund the order on its card the same way the customer paid. Tell the customer "
        "when the money will arrive (usually 1–3 days)."
    ),
    gettext_noop("Give a discount or a gift"),
    gettext_noop(
        # xgettext:no-python-format
        "Send the customer the code SORRY15 (−15% on the next order, valid for 30 days) or "
        "add a gift to their next order, and note it on the customer's card."
    ),
    gettext_noop("Explain to the customer and apologise"),
    gettext_noop(
        "Script: “[Name], thank you for waiting. We have looked into it: [what happened "
        "and why]. I am sorry it turned out this way. So that it does not happen again, we "
        "have [what we changed]. Is there anything else I can help with?”"
    ),
    gettext_noop("Wait 3 days"),
    gettext_noop("Ask again whether all is well"),
    gettext_noop(
        "Call or write: “I want to make sure we have put everything right. Is everything "
        "all right now?”"
    ),
    gettext_noop("Is the customer satisfied with the solution?"),
    gettext_noop("Yes, the matter is closed"),
    gettext_noop("No, still not satisfied"),
    gettext_noop("Remove the “complaint” tag"),
    gettext_noop("Complaint not resolved: get in touch in person"),
    gettext_noop(
        "The customer is still not satisfied. Call in person as the owner of the process, "
        "offer a solution that settles the matter, and write it in a note."
    ),
    # loyalty_tier_reward.json
    gettext_noop("VIP reward when a customer moves up a loyalty tier"),
    gettext_noop(
        "Every customer who reaches a higher loyalty tier hears the same day what it gives "
        "them, and a manager thanks them in person."
    ),
    gettext_noop(
        "A benefit nobody hears about changes nothing; recognition at the moment of the "
        "upgrade keeps the customer buying at the new level."
    ),
    gettext_noop("Email: your new tier and its benefits"),
    gettext_noop(
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}, "
        "you are now {{ customer.loyalty_tier }} at {{ business.name }}"
    ),
    gettext_noop(
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}!\n"
        "\n"
        "Thank you for your trust: you have reached the {{ customer.loyalty_tier }} tier.\n"
        "\n"
        "{% if customer.loyalty_benefits %}From now on you have:\n"
        "{{ customer.loyalty_benefits }}\n"
        "\n"
        "{% endif %}Kind regards,\n"
        "the {{ business.name }} team"
    ),
    gettext_noop("Thank the customer for the new tier in person"),
    gettext_noop(
        "Look at the customer's card first: their tier, what they buy and whether they "
        "ever complained."
    ),
    gettext_noop("Call and say thank you"),
    gettext_noop("Name the new tier and one benefit they can use on their next order."),
    gettext_noop("Put a small gift in their next order"),
    gettext_noop("A hand-signed card and a sample; note it on the customer's card."),
    # next_product_ladder.json
    gettext_noop("Next product from the ladder, when it is usually bought"),
    gettext_noop(
        "Three weeks after an order the customer gets an offer for the product that "
        "customers most often buy next."
    ),
    gettext_noop(
        "The product ladder, computed from the store's own orders, says what comes next; "
        "offering it when customers usually buy it again brings the second order sooner."
    ),
    gettext_noop("Email: the next product"),
    gettext_noop(
        "{% if next_product.name %}{{ next_product.name }}: what comes next{% else %}What "
        "comes next{% endif %}"
    ),
    gettext_noop(
        # xgettext:no-python-format
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}!\n"
        "\n"
        "{% if next_product.name %}Customers who bought what you bought usually choose "
        "{{ next_product.name }} next.{% else %}We have new arrivals that go with your "
        "purchase.{% endif %} Here is −10% on it with the code NEXT10, valid for 14 days.\n"
        "\n"
        "Kind regards,\n"
        "the {{ business.name }} team"
    ),
    # objection_handling.json
    gettext_noop("Sales call: handling objections"),
    gettext_noop(
        "On a sales call the operator names the customer's objection and follows its "
        "script; every call ends with an order, a call-back date or a recorded reason for "
        "no."
    ),
    gettext_noop(
        "Most lost sales end at an objection that has a good answer; a script makes every "
        "operator give the best one, and the recorded reasons show what to fix."
    ),
    gettext_noop("Call: find the main objection"),
    gettext_noop(
        "Listen more than you talk. Ask: “What is stopping you from ordering?” Name the "
        "main objection and choose it below: the SOP opens the script for it."
    ),
    gettext_noop("What keeps the customer from buying"),
    gettext_noop("“It's too expensive”"),
    gettext_noop("“I'll think about it”"),
    gettext_noop("“I'm not sure about the quality”"),
    gettext_noop("“Delivery takes too long”"),
    gettext_noop("No objections"),
    gettext_noop("Script: “It's too expensive”"),
    gettext_noop(
        "“I understand, the price matters. What are you comparing it with?” Listen. Then: "
        "“Our price includes [warranty, delivery, service]. Spread over its lifetime, it "
        "is [N] a month.” If the budget is tight, offer a cheaper option or payment in "
        "instalments."
    ),
    gettext_noop("Found out what the customer compares with"),
    gettext_noop("A competitor's price, a budget, expectations."),
    gettext_noop("Named the value, not a discount"),
    gettext_noop("Warranty, quality, delivery, service."),
    gettext_noop("Offered an alternative"),
    gettext_noop("A cheaper model or payment in instalments."),
    gettext_noop("Script: “I'll think about it”"),
    gettext_noop(
        "“Of course. To make the decision easier, what exactly would you like to think "
        "over: the price, the model or the timing?” “I'll think about it” usually hides "
        "something else: find it and answer it. If the customer really needs time, agree "
        "on a specific day and time for a call."
    ),
    gettext_noop("Found the real reason"),
    gettext_noop("The price, a doubt about quality, someone's advice."),
    gettext_noop("Agreed the date of the next call"),
    gettext_noop("A specific day and time."),
    gettext_noop("Script: “I'm not sure about the quality”"),
    gettext_noop(
        "“It's great that you choose carefully. Here is what I can tell you: [a warranty "
        "of N months], [buyers' reviews], 14 days to return it without explanation.” Offer "
        "to send photos or a video of the item and a link to the reviews."
    ),
    gettext_noop("Told them about the warranty and returns"),
    gettext_noop("14 days, no explanation needed."),
    gettext_noop("Sent reviews, photos or a video"),
    gettext_noop("By messenger or email."),
    gettext_noop("Script: “Delivery takes too long”"),
    gettext_noop(
        "“I understand, you want it sooner. If we place the order before 15:00, we ship "
        "today, and the parcel will be with you in a day or two. I can offer door-to-door "
        "delivery by courier.”"
    ),
    gettext_noop("Named the exact delivery times"),
    gettext_noop("Shipping and arrival dates."),
    gettext_noop("Offered a faster way"),
    gettext_noop("A courier or pick-up."),
    gettext_noop("Outcome of the conversation"),
    gettext_noop("How the conversation ended"),
    gettext_noop("The customer placed an order"),
    gettext_noop("Asks to be called back later"),
    gettext_noop("The customer declined"),
    gettext_noop("Wait 2 days"),
    gettext_noop("Call back as agreed"),
    gettext_noop(
        "“Good afternoon, [name]! You asked me to call back: have you had time to think it "
        "over?” If a new objection comes up, open its script."
    ),
    gettext_noop("Record the reason for the refusal"),
    gettext_noop("Reason for the refusal"),
    gettext_noop("Price"),
    gettext_noop("Bought elsewhere"),
    gettext_noop("Not the right time"),
    gettext_noop("Quality"),
    gettext_noop("What the customer said"),
    # referral_ask.json
    gettext_noop("Referral ask twice a year to satisfied customers"),
    gettext_noop(
        "Customers who bought at least twice and recently, with no open complaint, are "
        "asked to recommend us, at most twice a year."
    ),
    gettext_noop(
        "A satisfied customer's recommendation is the cheapest and most trusted way to a "
        "new one; asking more often than twice a year wears it out."
    ),
    gettext_noop("Tag as “referral asked”"),
    gettext_noop("Email: recommend us to a friend"),
    gettext_noop("Share your code with a friend, and get a reward yourself"),
    gettext_noop(
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}!\n"
        "\n"
        "You have bought from {{ business.name }} more than once, so you must like it "
        "here. Share it with your friends!\n"
        "\n"
        "Give a friend your code "
        "{{ customer.referral_code }}{% if customer.referral_link %} or this link: "
        "{{ customer.referral_link }}{% endif %}. With it they get "
        "{{ customer.friend_reward }}, and when they order you get "
        "{{ customer.referrer_reward }}.\n"
        "\n"
        "Thank you for recommending us!\n"
        "\n"
        "Kind regards,\n"
        "the {{ business.name }} team"
    ),
    gettext_noop("Do not ask again for half a year"),
    gettext_noop("Remove the tag"),
    # rfm_win_back.json
    gettext_noop("Win-back offer for customers at risk (RFM)"),
    gettext_noop(
        "Customers who used to buy often but have gone quiet get an offer for what they "
        "usually buy next; those we cannot lose get a bigger one."
    ),
    gettext_noop(
        "RFM finds the valuable customers who are drifting away before a year has passed: "
        "winning them back early costs less."
    ),
    gettext_noop("Tag as “win-back offer”"),
    gettext_noop("A customer we cannot lose?"),
    gettext_noop("Email: an offer to come back"),
    gettext_noop("We have something for you at {{ business.name }}"),
    gettext_noop(
        # xgettext:no-python-format
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}!\n"
        "\n"
        "It has been a while. {% if next_product.name %}Customers like you often choose "
        "{{ next_product.name }} next. {% endif %}Here is −10% on your next order with the "
        "code BACK10, valid for 14 days.\n"
        "\n"
        "Kind regards,\n"
        "the {{ business.name }} team"
    ),
    gettext_noop("Email: a bigger offer for a customer we cannot lose"),
    # xgettext:no-python-format
    gettext_noop("We miss you at {{ business.name }}: −20% for you"),
    gettext_noop(
        # xgettext:no-python-format
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}!\n"
        "\n"
        "You have been one of our best customers, and we miss you. "
        "{% if next_product.name %}We think {{ next_product.name }} would suit you. "
        "{% endif %}Here is −20% on your next order with the code BACK20, valid for 14 "
        "days.\n"
        "\n"
        "Kind regards,\n"
        "the {{ business.name }} team"
    ),
    # vip_recognition.json
    gettext_noop("VIP recognition for the top customers by spend"),
    gettext_noop(
        "Customers whose lifetime spend passes the VIP threshold are tagged VIP, get their "
        "benefits by email and a personal call from a manager."
    ),
    gettext_noop(
        "A few customers bring a large share of revenue; recognising them keeps them. Set "
        "the threshold (25,000 in the store's currency) to your top few percent before "
        "publishing."
    ),
    gettext_noop("Tag as VIP"),
    gettext_noop("Email: you are a VIP now"),
    gettext_noop(
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}, "
        "you are now a VIP customer of {{ business.name }}"
    ),
    gettext_noop(
        # xgettext:no-python-format
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}!\n"
        "\n"
        "You are among our most loyal customers, and we want to say thank you with more "
        "than words. From now on you have:\n"
        "• a permanent 10% discount with the code VIP10;\n"
        "• free delivery of every order;\n"
        "• a personal manager and answers ahead of the queue.\n"
        "\n"
        "Your manager will call you in the coming days to get acquainted.\n"
        "\n"
        "Kind regards,\n"
        "the {{ business.name }} team"
    ),
    gettext_noop("Welcome the VIP customer in person"),
    gettext_noop(
        "This is not a sale but a thank-you. Before the call, look at the customer's card: "
        "what they buy and how often, and whether they ever complained."
    ),
    gettext_noop("Introduce yourself as their personal manager; ask what we could do better."),
    gettext_noop("Prepare a gift for the next order"),
    gettext_noop(
        "A hand-signed card and a sample or an accessory worth up to 300 in the store's currency."
    ),
    gettext_noop("Note their preferences on the customer's card"),
    gettext_noop("Sizes, favourite categories, a good time to call: in a note."),
    # vip_reward.json
    gettext_noop("Reward for champions (RFM)"),
    gettext_noop(
        "Customers who buy often, recently and much (RFM champions) get a thank-you gift "
        "once, so they stay champions."
    ),
    gettext_noop(
        "Champions bring a large share of revenue and recommend the store; a small reward "
        "at the right time keeps them."
    ),
    gettext_noop("Tag as “champion reward”"),
    gettext_noop("Email: a thank-you gift"),
    gettext_noop("Thank you from {{ business.name }}: a gift for you"),
    gettext_noop(
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}!\n"
        "\n"
        "You are one of our best customers. As a thank-you, your next order comes with a "
        "gift and free delivery: use the code THANKYOU.\n"
        "\n"
        "Kind regards,\n"
        "the {{ business.name }} team"
    ),
    # win_back.json
    gettext_noop("Win-back after 12 months without an order"),
    gettext_noop(
        "A customer who has not ordered for a year gets an offer to come back, and a call "
        "to learn why if the offer does not bring them."
    ),
    gettext_noop(
        "Bringing a former customer back costs far less than finding a new one, and their "
        "reasons for leaving tell us what to fix."
    ),
    gettext_noop("Email: we miss you, here is a discount"),
    gettext_noop(
        # xgettext:no-python-format
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}, "
        "we miss you: here is −15% to come back"
    ),
    gettext_noop(
        # xgettext:no-python-format
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}!\n"
        "\n"
        "You have not visited {{ business.name }} for a year, and we miss you. Since then "
        "we have new arrivals, and delivery has become faster.\n"
        "\n"
        "Come back: the code COMEBACK15 gives −15% on any order, valid for 14 days.\n"
        "\n"
        "If something went wrong back then, reply to this email: we want to put it right.\n"
        "\n"
        "Kind regards,\n"
        "the {{ business.name }} team"
    ),
    gettext_noop("Tag as “win-back”"),
    gettext_noop("Came back with an order?"),
    gettext_noop("Call and find out why the customer left"),
    gettext_noop(
        "The customer did not respond to the email. Call: “You used to buy from us, and it "
        "matters to us why you stopped. We want to get better.” Do not argue; listen. At "
        "the end, remind them of the code COMEBACK15."
    ),
    gettext_noop("Why the customer stopped buying"),
    gettext_noop("Too expensive"),
    gettext_noop("Found another shop"),
    gettext_noop("No longer needed"),
    gettext_noop("Poor delivery or service"),
    gettext_noop("Forgot about us"),
    gettext_noop("Promises to use the offer"),
    # review_meeting.json
    gettext_noop("Monthly SOP review meeting"),
    gettext_noop(
        "Once a month the owner and the managers look at how each SOP ran, with its review "
        "report, and decide what to change."
    ),
    gettext_noop(
        "An SOP nobody looks at drifts from how the work is really done. The report shows "
        "the slowest and most skipped steps and whether the SOP moved its KPI; the meeting "
        "turns that into changes."
    ),
    gettext_noop("Hold the SOP review meeting"),
    gettext_noop(
        "Book an hour with the managers this week. Open SOPs, then each SOP's review "
        "report (from its Runs section) for the last 90 days."
    ),
    gettext_noop("Read each SOP's effect on its KPI"),
    gettext_noop(
        "An SOP with no measurable effect after enough runs is a candidate to change or retire."
    ),
    gettext_noop("Go through the slowest and the most skipped steps"),
    gettext_noop("Ask the people who run them why; the skip reasons are listed beside each step."),
    gettext_noop("Decide on the open feedback and proposals"),
    gettext_noop("Accept a proposal into a draft, or decline it with a reason its author reads."),
    gettext_noop("Write the changes as new drafts and send them for review"),
    # lead_callback.json
    gettext_noop("Call the lead back within one business day"),
    gettext_noop(
        "Every new lead hears from us by phone within one business day, and the call ends "
        "with a next step."
    ),
    gettext_noop(
        "A lead called back the same day buys far more often than one called after two "
        "days: by then they have asked a competitor."
    ),
    gettext_noop("Call the new lead back"),
    gettext_noop(
        "Call within one business day of the lead arriving. Log the call on the lead's "
        "page (that is what the response time measures), learn what they need and agree on "
        "the next step."
    ),
    gettext_noop("Reached the lead"),
    gettext_noop("What they need (in their words)"),
    gettext_noop("Next step"),
    gettext_noop("Book a meeting"),
    gettext_noop("Send an offer"),
    gettext_noop("Call again later"),
    gettext_noop("Not interested"),
    # lead_no_meeting.json
    gettext_noop("What happens to leads that neither met nor bought"),
    gettext_noop(
        "No lead is left hanging: two weeks after arriving, a lead that is neither a deal "
        "nor closed gets one more try or is closed with a reason."
    ),
    gettext_noop(
        "A list full of forgotten leads hides the live ones and makes the numbers lie; a "
        "decision on each keeps both honest."
    ),
    gettext_noop("Decide on a lead that neither met nor bought"),
    gettext_noop(
        "The lead arrived two weeks ago and has not become a deal. Read the contacts on "
        "its page and decide."
    ),
    gettext_noop("One more call"),
    gettext_noop("Close the lead"),
    gettext_noop("One more call to the lead"),
    gettext_noop(
        "Call once more and log the call on the lead's page; if they want to talk, book a "
        "meeting, else disqualify the lead."
    ),
    gettext_noop(
        "Disqualify the lead on its page. If they agreed to hear from us, they stay in the "
        "customers' mailings."
    ),
    # lead_nurture.json
    gettext_noop("Nurture leads who did not buy"),
    gettext_noop(
        "A customer whose deal was lost hears from us twice in the next six weeks with "
        "something useful, and is called once before we let go."
    ),
    gettext_noop(
        "A lost deal is often a 'not now': a useful word at the right time brings back "
        "some of those who said no."
    ),
    gettext_noop("Wait two weeks"),
    gettext_noop("Email: something useful, no selling"),
    gettext_noop("A few tips we promised to share"),
    gettext_noop(
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}!\n"
        "\n"
        "We talked a little while ago, and we thought these tips might come in handy "
        "whatever you decided. If your plans change, we are one reply away.\n"
        "\n"
        "Kind regards,\n"
        "the {{ business.name }} team"
    ),
    gettext_noop("Wait a month"),
    gettext_noop("Call the customer who did not buy"),
    gettext_noop(
        "Ask whether the need is still there and what has changed. Do not push: a friendly "
        "call keeps the door open."
    ),
    gettext_noop("Wants a new offer"),
    gettext_noop("Later"),
    # presentation_followup.json
    gettext_noop("Follow up within 24 hours of a presentation"),
    gettext_noop(
        "Within 24 hours of a presentation the customer gets a thank-you with the next "
        "step, and the owner calls to hear their questions."
    ),
    gettext_noop(
        "The day after a presentation the customer still remembers it: a quick follow-up "
        "answers the doubts before they turn into a no."
    ),
    gettext_noop("Email: thank you for your time"),
    gettext_noop("Thank you for your time"),
    gettext_noop(
        "{% if customer.first_name %}{{ customer.first_name }}{% else %}Hello{% endif %}!\n"
        "\n"
        "Thank you for the time you gave us. As promised, we are preparing the offer we "
        "talked about; if any question came up after our conversation, just reply to this "
        "email.\n"
        "\n"
        "Kind regards,\n"
        "the {{ business.name }} team"
    ),
    gettext_noop("Call after the presentation"),
    gettext_noop(
        "Call within 24 hours of the presentation. Ask what they liked and what stops "
        "them; answer the objections with the scripts from the knowledge base."
    ),
    gettext_noop("What stops the customer"),
    gettext_noop("Where the deal stands"),
    gettext_noop("Ready to buy"),
    gettext_noop("Needs time"),
)
