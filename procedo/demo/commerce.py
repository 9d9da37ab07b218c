"""The demo store's trade: customers, a catalog and a year of orders, the same every time.

(Over 600 lines on purpose: the plan and its writing share one set of dataclasses and
seeds, and the demo is data more than logic; nothing else imports from here.)

`demo_commerce_load` runs once, inside `demo_store_load`'s transaction. It first
plans everything in plain Python (`demo_plan`: Faker and random.Random with
fixed seeds, no database; the same seed and `now` always give the same plan),
then writes the plan in two ways:

- History, the orders placed before the last `live_days` (all of them settled
  by now): set-based rows, the way the order importer writes them, with one
  "order.imported" event per order and one "customer.imported" per customer.
  The timelines are not empty, and no SOP that greets new orders or customers
  starts for a year of history.
- The last days: each step (a new customer, an order, a payment, a
  confirmation, packing, a label, a carrier's scan, a cancellation, a return,
  a refund, a note) goes through the services, in the order it happened, so
  its events, stock reservations and stock movements are the real ones. The
  services stamp what they write with the clock; `_Backdate` then moves each
  stamp to the time its step happened.

Speed: order_create costs about 26 queries, so ten thousand orders through the
services would take minutes; the few hundred of the last days take seconds
and the history a few executemany calls.

Emails use the reserved ".example" top-level domain: whatever a demo SOP
sends can never reach a real inbox.
"""

from __future__ import annotations

import bisect
import random
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from django.db import connection
from django.db.models import F, Model, OuterRef, Subquery
from django.utils import timezone
from faker import Faker

from procedo.accounts.models import User
from procedo.catalog import services as catalog_services
from procedo.catalog.models import Product, Sku, StockMovement
from procedo.core.errors import DomainError
from procedo.core.money import money_quantize
from procedo.core.rows import rows_insert
from procedo.customers import normalise
from procedo.customers.models import (
    Address,
    AddressKind,
    ConsentState,
    Customer,
    CustomerTag,
    Identity,
    IdentityKind,
    Note,
    Tag,
)
from procedo.customers.services import bulk as bulk_services
from procedo.customers.services import customers as customer_services
from procedo.customers.services import details as detail_services
from procedo.customers.services import identities as identity_services
from procedo.events.models import Event
from procedo.events.services.recording import NewEvent, events_record_many
from procedo.orders.models import (
    Order,
    OrderCounter,
    OrderKind,
    OrderLine,
    Payment,
    PaymentMethod,
    PaymentStatus,
    Refund,
    Return,
    ReturnLine,
    ReturnStatus,
    Shipment,
    ShipmentStatus,
    ShipmentStatusChange,
    StockState,
)
from procedo.orders.services.customer_figures import customer_stats_refresh_all
from procedo.orders.services.history import LINE_COLUMNS, ORDER_COLUMNS
from procedo.orders.services.lines import OrderLineIn
from procedo.orders.services.payments import payment_record, refund_record
from procedo.orders.services.returns import ReturnLineIn, return_create
from procedo.orders.services.shipments import shipment_create, shipment_update_status
from procedo.orders.services.statuses import order_change_status
from procedo.orders.services.taking import FIRST_ORDER_NUMBER, ORDER_COUNTER, order_create
from procedo.orders.totals import OrderTotals, PricedLine, order_totals

CURRENCY = "UAH"
KYIV = ZoneInfo("Europe/Kyiv")
ZERO = Decimal("0")
SOURCE = "demo store"
LOCALES = ("uk_UA", "pl_PL", "de_DE", "en_GB", "en_US")
NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class DemoSizes:
    """How much to make; the defaults are the demo `procedo run` loads, tests pass less."""

    customers: int = 3000
    orders: int = 10_000
    days: int = 365
    # Orders placed in these last days go through the services, one step at a time.
    live_days: int = 4
    duplicate_pairs: int = 40
    notes: int = 40
    consent_changes: int = 6


FULL_SIZE = DemoSizes()


@dataclass(frozen=True)
class DemoCommerceSummary:
    loaded: bool = False
    customers: int = 0
    # (older, newer) customer ids of the pairs planted for the duplicates page.
    duplicate_pairs: tuple[tuple[int, int], ...] = ()
    products: int = 0
    skus: int = 0
    orders: int = 0
    live_orders: int = 0
    order_lines: int = 0
    payments: int = 0
    refunds: int = 0
    shipments: int = 0
    returns: int = 0
    events: int = 0


# ---------------------------------------------------------------- the data the plan draws on

# (code, name, price in UAH or None when each variant has its own, variants, description key)
# A variant is (code suffix, name, price or None for the product's price).
_Variant = tuple[str, str, int | None]
# fmt: off
CATALOG: tuple[tuple[str, str, int | None, tuple[_Variant, ...], str], ...] = (
    ("CUP-RANOK", "Чашка «Ранок» 350 мл", 420,
     (("BL", "синя", None), ("GR", "зелена", None), ("MK", "молочна", None), ("OC", "охра", None)),
     "ceramics"),
    ("CUP-KOSIV", "Чашка «Косів» з розписом, 300 мл", 560,
     (("FL", "квіти", None), ("BR", "птахи", None)), "ceramics"),
    ("CUP-ESP", "Горнятко для еспресо 90 мл", 260,
     (("WH", "біле", None), ("GF", "графіт", None), ("BL", "синє", None)), "ceramics"),
    ("PLT-OPI-27", "Тарілка обідня «Опішня» 27 см", 480,
     (("MK", "молочна", None), ("BL", "синя", None), ("OL", "оливкова", None)), "ceramics"),
    ("PLT-OPI-20", "Тарілка десертна «Опішня» 20 см", 360,
     (("MK", "молочна", None), ("BL", "синя", None), ("OL", "оливкова", None)), "ceramics"),
    ("BWL-SOUP", "Миска для супу 600 мл", 390,
     (("MK", "молочна", None), ("OL", "оливкова", None)), "ceramics"),
    ("JUG-MILK", "Глечик для молока 0,5 л", 650, (), "ceramics"),
    ("MAK-2L", "Макітра 2 л", 890, (), "ceramics"),
    ("TPT-1L", "Чайник керамічний 1 л", 1250,
     (("MK", "молочний", None), ("BL", "синій", None), ("OL", "оливковий", None)), "ceramics"),
    ("PIA-150", "Піала для чаю 150 мл", 240,
     (("OC", "охра", None), ("SM", "димчаста", None), ("WH", "біла", None)), "ceramics"),
    ("VAS-HUTS", "Ваза «Гуцулка»", None,
     (("25", "25 см", 1100), ("30", "30 см", 1450)), "ceramics"),
    ("SAL-15", "Салатниця 1,5 л", 720,
     (("MK", "молочна", None), ("BL", "синя", None), ("OL", "оливкова", None)), "ceramics"),
    ("SET-PETR", "Набір чашок «Петриківка», 2 шт", 980, (), "ceramics"),
    ("OIL-BTL", "Пляшка для олії 0,5 л", 540, (), "ceramics"),
    ("TEA-KARP", "Чай «Карпатський збір»", None,
     (("50", "50 г", 120), ("100", "100 г", 210), ("250", "250 г", 460)), "herbal"),
    ("TEA-IVAN", "Іван-чай ферментований", None,
     (("50", "50 г", 110), ("100", "100 г", 190), ("250", "250 г", 420)), "herbal"),
    ("TEA-CHEB", "Чай з чебрецем і м'ятою", None,
     (("50", "50 г", 115), ("100", "100 г", 200), ("250", "250 г", 440)), "herbal"),
    ("TEA-LYPA", "Липовий цвіт", None, (("50", "50 г", 135), ("100", "100 г", 240)), "herbal"),
    ("TEA-ZYMA", "Чай «Зимовий» з журавлиною", None,
     (("50", "50 г", 145), ("100", "100 г", 260), ("250", "250 г", 570)), "herbal"),
    ("TEA-SENC", "Зелений чай Сенча", None, (("50", "50 г", 160), ("100", "100 г", 290)), "tea"),
    ("TEA-ASSM", "Чорний чай Ассам", None,
     (("50", "50 г", 125), ("100", "100 г", 220), ("250", "250 г", 490)), "tea"),
    ("TEA-OOLG", "Улун молочний", None, (("50", "50 г", 210), ("100", "100 г", 380)), "tea"),
    ("TEA-PUER", "Пуер шу, 2015 рік", None, (("50", "50 г", 240), ("100", "100 г", 440)), "tea"),
    ("TEA-ROMA", "Ромашка лікарська", None, (("50", "50 г", 95), ("100", "100 г", 170)), "herbal"),
    ("TEA-BERR", "Чай «Лісові ягоди»", None,
     (("50", "50 г", 130), ("100", "100 г", 230), ("250", "250 г", 510)), "herbal"),
    ("TEA-MSLA", "Масала чай", None, (("50", "50 г", 140), ("100", "100 г", 250)), "tea"),
    ("COF-ETH", "Кава Ефіопія Іргачеф", None,
     (("B250", "у зернах, 250 г", 395), ("G250", "мелена, 250 г", 395),
      ("B1K", "у зернах, 1 кг", 1380), ("G1K", "мелена, 1 кг", 1380)), "coffee"),
    ("COF-COL", "Кава Колумбія Супремо", None,
     (("B250", "у зернах, 250 г", 345), ("G250", "мелена, 250 г", 345),
      ("B1K", "у зернах, 1 кг", 1190), ("G1K", "мелена, 1 кг", 1190)), "coffee"),
    ("COF-BRA", "Кава Бразилія Сантос", None,
     (("B250", "у зернах, 250 г", 295), ("G250", "мелена, 250 г", 295),
      ("B1K", "у зернах, 1 кг", 990), ("G1K", "мелена, 1 кг", 990)), "coffee"),
    ("COF-KEN", "Кава Кенія АА", None,
     (("B250", "у зернах, 250 г", 430), ("G250", "мелена, 250 г", 430),
      ("B1K", "у зернах, 1 кг", 1520)), "coffee"),
    ("COF-LVIV", "Еспресо-суміш «Львівська»", None,
     (("B250", "у зернах, 250 г", 310), ("G250", "мелена, 250 г", 310),
      ("B1K", "у зернах, 1 кг", 1050), ("G1K", "мелена, 1 кг", 1050)), "coffee"),
    ("COF-GUA", "Кава Гватемала Антигуа", None,
     (("B250", "у зернах, 250 г", 380), ("G250", "мелена, 250 г", 380),
      ("B1K", "у зернах, 1 кг", 1330)), "coffee"),
    ("COF-DEC", "Кава без кофеїну, Колумбія", None,
     (("B250", "у зернах, 250 г", 360), ("G250", "мелена, 250 г", 360)), "coffee"),
    ("COF-RWA", "Кава Руанда Бурбон", None,
     (("B250", "у зернах, 250 г", 410), ("B1K", "у зернах, 1 кг", 1450)), "coffee"),
    ("COF-DRIP", "Дрип-кава, набір 10 шт", None,
     (("MIX", "асорті", 320), ("ETH", "Ефіопія", 340)), "coffee"),
    ("COF-TURK", "Турка мідна 300 мл", 780, (), "home"),
    ("TWL-POLT", "Рушник вишитий «Полтавський»", None,
     (("150", "35×150 см", 1450), ("200", "40×200 см", 1890)), "textiles"),
    ("TWL-LEN", "Рушник лляний банний", None,
     (("5090", "50×90 см", 520), ("70140", "70×140 см", 890), ("100150", "100×150 см", 1190)),
     "textiles"),
    ("TBL-LEN", "Скатертина лляна", None,
     (("140180", "140×180 см", 1350), ("140240", "140×240 см", 1690)), "textiles"),
    ("NAP-SET4", "Серветки лляні, набір 4 шт", 560,
     (("GR", "сірі", None), ("MK", "молочні", None), ("OL", "оливкові", None),
      ("MU", "гірчичні", None)), "textiles"),
    ("APR-LEN", "Фартух лляний", 690,
     (("GR", "сірий", None), ("MU", "гірчичний", None), ("BL", "синій", None)), "textiles"),
    ("PIL-EMB", "Наволочка декоративна з вишивкою", None,
     (("40", "40×40 см", 640), ("50", "50×50 см", 740), ("60", "60×60 см", 840)), "textiles"),
    ("BLK-KARP", "Плед вовняний карпатський", None,
     (("140", "140×200 см", 2400), ("170", "170×210 см", 2950)), "textiles"),
    ("BED-LEN", "Комплект постільної білизни, льон", None,
     (("15", "півторачний", 3200), ("20", "двоспальний", 3900), ("EU", "євро", 4300)),
     "textiles"),
    ("VYSH-W", "Вишиванка жіноча, льон", 2600,
     (("S", "S", None), ("M", "M", None), ("L", "L", None), ("XL", "XL", None)), "textiles"),
    ("VYSH-M", "Вишиванка чоловіча, льон", 2800,
     (("M", "M", None), ("L", "L", None), ("XL", "XL", None), ("XXL", "XXL", None)), "textiles"),
    ("BAG-CAN", "Торба полотняна", 350, (("SUN", "«Соняшники»", None), ("POP", "«Маки»", None)),
     "textiles"),
    ("RUN-TBL", "Доріжка на стіл, льон 35×150 см", 780, (), "textiles"),
    ("CND-KARP", "Свічка соєва «Карпати»", None,
     (("150", "150 мл", 320), ("250", "250 мл", 450), ("400", "400 мл", 620)), "home"),
    ("CND-WAX", "Свічка з бджолиного воску", None, (("S", "мала", 180), ("L", "велика", 340)),
     "home"),
    ("SOAP-LAV", "Мило ручної роботи «Лаванда»", 140, (), "home"),
    ("SOAP-MINT", "Мило ручної роботи «М'ята»", 140, (), "home"),
    ("BRD-OAK", "Дошка для подачі, дуб", None, (("30", "30 см", 620), ("45", "45 см", 890)),
     "home"),
    ("SPN-WOOD", "Ложка дерев'яна, бук", 150, (), "home"),
    ("HNY-BUCK", "Мед гречаний", None,
     (("250", "250 г", 180), ("500", "500 г", 320), ("1K", "1 кг", 590)), "home"),
    ("HNY-ACAC", "Мед акацієвий", None, (("250", "250 г", 210), ("500", "500 г", 370)), "home"),
    ("SPC-SET", "Набір прянощів «Бабусині рецепти»", 460, (), "home"),
    ("CST-SET", "Підставки під чашки, корок, 4 шт", 260, (), "home"),
    ("GFT-CERT", "Подарунковий сертифікат", None,
     (("500", "500 грн", 500), ("1000", "1000 грн", 1000), ("2000", "2000 грн", 2000)), "gift"),
    ("GFT-BOX", "Подарункова коробка", None, (("S", "мала", 90), ("L", "велика", 150)), "gift"),
)
# fmt: on
DESCRIPTIONS = {
    "ceramics": "Ручна робота гончарів з Опішні. Глазур без свинцю, можна мити в посудомийці.",
    "herbal": "Трави з Карпат, сушені без ароматизаторів. Заварювати 90–95 °C, 5–7 хвилин.",
    "tea": "Листовий чай від перевірених постачальників, фасуємо вручну у крафтові пакети.",
    "coffee": "Обсмажуємо щотижня у Львові, середній ступінь обсмаження.",
    "textiles": "Льон і бавовна українського виробництва, вишивка за народними мотивами.",
    "home": "Для дому та подарунків: натуральні матеріали від невеликих майстерень.",
    "gift": "Подарунок, коли не знаєте, що обрати.",
}
# How often a category sells (tea and coffee run out and are bought again).
CATEGORY_DEMAND = {
    "ceramics": 1.0,
    "herbal": 1.5,
    "tea": 1.1,
    "coffee": 1.8,
    "textiles": 0.7,
    "home": 0.8,
    "gift": 0.25,
}

COUNTRIES = (("UA", 82), ("PL", 7), ("DE", 5), ("GB", 3), ("US", 3))
LOCALE_OF = {"UA": "uk_UA", "PL": "pl_PL", "DE": "de_DE", "GB": "en_GB", "US": "en_US"}
# The share of customers abroad who are Ukrainians living there.
UKRAINIANS_ABROAD = {"PL": 0.45, "DE": 0.4, "GB": 0.3, "US": 0.3}

# city, region, first and last postcode, weight, Nova Poshta branches
UA_CITIES = (
    ("Київ", "", 1001, 4655, 30, 300),
    ("Львів", "Львівська обл.", 79000, 79495, 9, 120),
    ("Харків", "Харківська обл.", 61001, 61204, 8, 150),
    ("Одеса", "Одеська обл.", 65001, 65125, 7, 130),
    ("Дніпро", "Дніпропетровська обл.", 49000, 49130, 7, 130),
    ("Запоріжжя", "Запорізька обл.", 69001, 69124, 3, 70),
    ("Вінниця", "Вінницька обл.", 21001, 21037, 4, 50),
    ("Полтава", "Полтавська обл.", 36001, 36040, 3, 40),
    ("Івано-Франківськ", "Івано-Франківська обл.", 76001, 76026, 4, 35),
    ("Тернопіль", "Тернопільська обл.", 46001, 46027, 3, 30),
    ("Чернівці", "Чернівецька обл.", 58001, 58032, 2, 30),
    ("Ужгород", "Закарпатська обл.", 88000, 88020, 2, 20),
    ("Луцьк", "Волинська обл.", 43001, 43026, 2, 25),
    ("Рівне", "Рівненська обл.", 33001, 33028, 2, 25),
    ("Житомир", "Житомирська обл.", 10001, 10031, 2, 30),
    ("Черкаси", "Черкаська обл.", 18001, 18036, 2, 30),
    ("Хмельницький", "Хмельницька обл.", 29000, 29027, 2, 30),
    ("Чернігів", "Чернігівська обл.", 14000, 14039, 2, 25),
    ("Суми", "Сумська обл.", 40000, 40035, 1.5, 25),
    ("Біла Церква", "Київська обл.", 9100, 9117, 1.5, 15),
    ("Ірпінь", "Київська обл.", 8200, 8205, 1.5, 10),
    ("Бровари", "Київська обл.", 7400, 7415, 1, 10),
    ("Мукачево", "Закарпатська обл.", 89600, 89611, 1, 10),
    ("Кременчук", "Полтавська обл.", 39600, 39631, 1, 20),
    ("Кропивницький", "Кіровоградська обл.", 25001, 25031, 1, 25),
)
# city, region, first and last postcode (as numbers), weight
PL_CITIES = (
    ("Warszawa", "mazowieckie", 1, 4999, 5),
    ("Kraków", "małopolskie", 30001, 31999, 3),
    ("Wrocław", "dolnośląskie", 50001, 54999, 3),
    ("Gdańsk", "pomorskie", 80001, 80999, 2),
    ("Poznań", "wielkopolskie", 60001, 61999, 2),
    ("Łódź", "łódzkie", 90001, 94999, 1),
    ("Lublin", "lubelskie", 20001, 20999, 2),
    ("Rzeszów", "podkarpackie", 35001, 35999, 1),
    ("Katowice", "śląskie", 40001, 40999, 1),
)
DE_CITIES = (
    ("Berlin", "Berlin", 10115, 14199, 5),
    ("München", "Bayern", 80331, 81929, 3),
    ("Hamburg", "Hamburg", 20095, 22769, 2),
    ("Köln", "Nordrhein-Westfalen", 50667, 51149, 2),
    ("Frankfurt am Main", "Hessen", 60306, 60599, 2),
    ("Leipzig", "Sachsen", 4103, 4357, 1),
    ("Dresden", "Sachsen", 1067, 1328, 1),
    ("Stuttgart", "Baden-Württemberg", 70173, 70629, 1),
    ("Düsseldorf", "Nordrhein-Westfalen", 40210, 40629, 1),
)
# city, outward codes, weight
GB_CITIES = (
    ("London", ("E1", "E2", "E8", "N1", "N7", "NW1", "NW3", "SE1", "SE15", "SW4", "W2"), 5),
    ("Manchester", ("M1", "M4", "M14", "M20"), 2),
    ("Birmingham", ("B1", "B5", "B15", "B29"), 2),
    ("Edinburgh", ("EH1", "EH3", "EH6", "EH10"), 1),
    ("Leeds", ("LS1", "LS6", "LS7"), 1),
    ("Bristol", ("BS1", "BS6", "BS8"), 1),
    ("Glasgow", ("G1", "G3", "G12"), 1),
)
GB_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
GB_STREET_KINDS = ("Street", "Road", "Lane", "Avenue", "Close", "Gardens")
# city, state, first and last ZIP, area codes, weight
US_CITIES = (
    ("New York", "NY", 10001, 10282, ("212", "646", "718", "917"), 4),
    ("Chicago", "IL", 60601, 60661, ("312", "773"), 2),
    ("Los Angeles", "CA", 90001, 90089, ("213", "310", "323"), 2),
    ("Philadelphia", "PA", 19102, 19154, ("215", "267"), 1),
    ("Seattle", "WA", 98101, 98199, ("206",), 1),
    ("Houston", "TX", 77002, 77099, ("713", "832"), 1),
    ("Boston", "MA", 2108, 2137, ("617",), 1),
    ("Miami", "FL", 33101, 33199, ("305", "786"), 1),
)
US_STREETS = ("Maple", "Oak", "Cedar", "Pine", "Elm", "Washington", "Lake", "Hill", "Park", "Main")
US_STREET_KINDS = ("Street", "Avenue", "Road", "Drive", "Boulevard")

# Mobile prefixes; Kyivstar (67, 68, 96–98) is the largest operator, then Vodafone, then lifecell.
# fmt: off
UA_MOBILE = (
    ("67", 18), ("68", 8), ("96", 8), ("97", 9), ("98", 7), ("50", 12), ("66", 9), ("95", 8),
    ("99", 6), ("63", 6), ("73", 5), ("93", 7),
)
# fmt: on
# Also valid Polish numbers: a Ukrainian mobile typed after a form's "+48" stays valid.
UA_MOBILE_VALID_IN_PL = frozenset({"67", "68", "50", "66", "95", "63", "73"})
PL_MOBILE = ("50", "51", "53", "57", "60", "66", "69", "72", "73", "78", "79", "88")
DE_MOBILE = ("151", "152", "157", "160", "162", "170", "171", "172", "173", "175", "176", "177")

# The reserved ".example" top-level domain (RFC 2606): no demo message reaches a real inbox.
# fmt: off
EMAIL_DOMAINS = {
    "UA": (
        ("gmail.example", 45), ("ukrnet.example", 30), ("i.example", 6), ("meta.example", 5),
        ("icloud.example", 8), ("outlook.example", 6),
    ),
    "PL": (
        ("gmail.example", 45), ("wp.example", 20), ("onet.example", 15), ("o2.example", 10),
        ("interia.example", 10),
    ),
    "DE": (
        ("gmail.example", 35), ("gmx.example", 25), ("web.example", 25),
        ("t-online.example", 15),
    ),
    "GB": (
        ("gmail.example", 50), ("outlook.example", 20), ("yahoo.example", 15),
        ("btinternet.example", 15),
    ),
    "US": (
        ("gmail.example", 55), ("yahoo.example", 20), ("outlook.example", 15),
        ("icloud.example", 10),
    ),
}
CUSTOMER_SOURCES = (
    ("website", 68), ("instagram", 15), ("prom.ua", 7), ("phone", 6), ("facebook", 4),
)
# channel, weight, the sources (utm) its orders come with
ORDER_CHANNELS = (
    ("website", 72,
     ("google / organic", "google / cpc", "direct", "email / newsletter", "facebook / paid")),
    ("instagram", 14, ("instagram / direct", "instagram / stories")),
    ("phone", 7, ("",)),
    ("prom.ua", 7, ("prom.ua",)),
)
COMPANIES = (
    "Кав'ярня «Зерно»", "Чайна крамниця «Листок»", "Крамниця «Глина і льон»",
    "Готель «Смерекова хата»", "Сувенірна крамниця «Писанка»", "ТОВ «Карпатський дім»",
    "Кав'ярня «Львівські горнятка»", "Садиба «Під липою»", "ТОВ «Затишна оселя»",
    "Ресторан «Вареничня на Подолі»",
)
# fmt: on
ORDER_COMMENTS = (
    "Подарункова упаковка, будь ласка",
    "Передзвоніть перед відправкою",
    "Додайте листівку «З днем народження»",
    "Потрібен рахунок для ФОП",
    "Можна у поштомат",
    "Не дзвоніть, напишіть у Viber",
)
CANCEL_REASONS = (
    "Клієнт передумав",
    "Немає потрібного кольору, від заміни відмовилися",
    "Дубль замовлення",
    "Не вдалося зв'язатися з клієнтом",
)
UNPAID_REASON = "Не оплачено протягом двох днів"
RETURN_REASONS = (
    "Не підійшов розмір",
    "Колір відрізняється від фото",
    "Пошкоджено під час доставки",
    "Клієнт передумав",
    "Надіслали не той товар",
)
REFUSED_REASON = "Посилку не забрали у відділенні"
NOTE_BODIES = (
    "Просить телефонувати після 18:00.",
    "Постійна клієнтка, любить кераміку синього кольору.",
    "Щогрудня замовляє подарунки для колег: запропонувати набори заздалегідь.",
    "Доставка лише на відділення Нової пошти, не кур'єром.",
    "Пише у Viber, дзвінки не бере.",
    "Алергія на лаванду: не класти пробники мила.",
    "Оптова ціна за прайсом «опт-2», рахунок на ФОП.",
    "Скаржилась на тріснуту чашку в посилці, відправили заміну безкоштовно.",
    "Просить пакувати без пластику.",
    "Залишила гарний відгук в Instagram; запропонувати -10% на наступне замовлення.",
    "Купує каву щомісяця, цікавиться новими лотами.",
    "Замовляє для кав'ярні, потрібні видаткові накладні.",
)
STOCKTAKE_NOTE = "Інвентаризація складу"

CARRIERS_UA = (("Нова пошта", 72), ("Укрпошта", 22), ("Meest", 6))
CARRIERS_ABROAD = (("Meest", 55), ("Укрпошта", 45))
SHIPPING_ABROAD = {"PL": 420, "DE": 560, "GB": 640, "US": 890}
# fmt: off
HOUR_WEIGHTS = (
    1.0, 0.5, 0.3, 0.2, 0.2, 0.3, 0.6, 1.2, 2.0, 3.0, 4.0, 4.5,
    4.5, 4.5, 4.5, 4.5, 4.5, 5.0, 5.5, 6.0, 6.5, 6.0, 4.0, 2.5,
)
# fmt: on
# Staff of procedo.demo.load by what they do; a missing one falls back to the owner.
CONFIRMERS = ("olena", "iryna")
PACKERS = ("taras", "iryna")
SUPPORT = ("maksym", "olena")

# Step kinds that move the order, and the default pipeline status they move it to.
STATUS_OF_STEP = {
    "placed": "new",
    "confirmed": "confirmed",
    "packed": "packed",
    "in_transit": "shipped",
    "delivered": "delivered",
    "cancelled": "cancelled",
    "returned": "returned",
}
# Step kinds that are a carrier's scan, and the shipment status they set.
SHIPMENT_OF_STEP = {
    "in_transit": ShipmentStatus.IN_TRANSIT,
    "arrived": ShipmentStatus.OUT_FOR_DELIVERY,
    "delivered": ShipmentStatus.DELIVERED,
    "shipment_returned": ShipmentStatus.RETURNED,
}
# Step kinds that set an order's timestamp the first time (as the status moves do).
FIRST_TIME_OF_STEP = {
    "confirmed": "confirmed_at",
    "in_transit": "shipped_at",
    "delivered": "delivered_at",
    "cancelled": "cancelled_at",
}
HOLDING = frozenset({"new", "confirmed", "packed"})
# What may happen to an order before a person confirms it, and how many of the latest stay new.
BEFORE_CONFIRMATION = frozenset({"placed", "paid", "invoice"})
WAITING_NEW = 3
TAG_VIP, TAG_WHOLESALE, TAG_NEW, TAG_NEWSLETTER = "VIP", "опт", "new", "newsletter"


# ---------------------------------------------------------------- the plan


@dataclass(frozen=True)
class SkuPlan:
    code: str
    product: str
    name: str
    price: Decimal
    allow_backorder: bool
    category: str

    @property
    def description(self) -> str:
        return " ".join(part for part in (self.product, self.name) if part)


@dataclass(frozen=True)
class ProductPlan:
    name: str
    description: str
    skus: tuple[SkuPlan, ...]


@dataclass(frozen=True)
class AddressPlan:
    line1: str
    city: str
    region: str
    postcode: str
    country: str


@dataclass(eq=False)
class CustomerPlan:
    first_name: str
    last_name: str
    country: str
    email: str
    phone: str  # E.164, or ""
    phone_typed: str  # as the customer typed it at the checkout
    addresses: list[AddressPlan]
    company: str = ""
    source: str = ""
    email_consent: str = ConsentState.UNKNOWN
    sms_consent: str = ConsentState.UNKNOWN
    consent_source: str = ""
    wholesale: bool = False
    created_at: datetime = NEVER
    tags: list[str] = field(default_factory=list)
    orders: list[OrderPlan] = field(default_factory=list)

    @property
    def identities(self) -> list[str]:
        return [value for value in (self.email, self.phone) if value]


@dataclass(frozen=True)
class LinePlan:
    sku: SkuPlan
    quantity: int


@dataclass(frozen=True)
class Step:
    """One thing that happened to an order; history rows and service calls both come from it."""

    at: datetime
    kind: str
    actor: str = ""  # a staff username; "" is the shop's website or the carrier
    amount: Decimal = ZERO
    method: str = ""
    note: str = ""
    # (line position, quantity) coming back, for "return"
    lines: tuple[tuple[int, int], ...] = ()


@dataclass(eq=False)
class OrderPlan:
    customer: CustomerPlan
    placed_at: datetime
    lines: tuple[LinePlan, ...]
    totals: OrderTotals
    discount: Decimal
    shipping: Decimal
    method: str
    carrier: str
    tracking: str
    channel: str
    source: str
    note: str
    ship_country: str
    steps: list[Step] = field(default_factory=list)
    number: str = ""

    @property
    def status(self) -> str:
        moves = [STATUS_OF_STEP[s.kind] for s in self.steps if s.kind in STATUS_OF_STEP]
        return moves[-1]


@dataclass(frozen=True)
class NotePlan:
    customer: CustomerPlan
    at: datetime
    author: str
    body: str


@dataclass(frozen=True)
class ConsentPlan:
    customer: CustomerPlan
    at: datetime
    kind: str
    state: str
    source: str


@dataclass(frozen=True)
class DemoPlan:
    now: datetime
    live_from: datetime
    catalog_at: datetime
    stocktake_at: datetime
    products: tuple[ProductPlan, ...]
    customers: tuple[CustomerPlan, ...]  # oldest first
    orders: tuple[OrderPlan, ...]  # by number, which is by placed_at
    notes: tuple[NotePlan, ...]
    consents: tuple[ConsentPlan, ...]
    duplicates: tuple[tuple[CustomerPlan, CustomerPlan], ...]
    stock: Mapping[str, int]  # SKU code -> counted at the stocktake

    def order_is_live(self, order: OrderPlan) -> bool:
        # An order still holding stock is live wherever it was placed: the
        # services reserve its stock, the history rows reserve none.
        return order.placed_at >= self.live_from or order.status in HOLDING

    def customer_is_live(self, customer: CustomerPlan) -> bool:
        return customer.created_at >= self.live_from


def demo_plan(*, now: datetime, seed: int = 2026, sizes: DemoSizes = FULL_SIZE) -> DemoPlan:
    """Everything the demo store holds, as plain Python; the same seed and `now` give the same."""
    return _Planner(seed=seed, now=now, sizes=sizes).plan()


# Ukrainian to Latin, the official (2010) transliteration.
# fmt: off
_UK_LATIN = {
    "а": "a", "б": "b", "в": "v", "г": "h", "ґ": "g", "д": "d", "е": "e", "є": "ie", "ж": "zh",
    "з": "z", "и": "y", "і": "i", "ї": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n",
    "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ь": "", "ю": "iu", "я": "ia", "'": "", "’": "", "ʼ": "",
    "ł": "l", "ä": "ae", "ö": "oe", "ü": "ue",
}
# fmt: on
_UK_LATIN_WORD_START = {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}


def _latin(text: str) -> str:
    """Lower-case Latin letters for a name in any of the demo's alphabets; other signs kept."""
    out: list[str] = []
    start = True
    for ch in text.casefold():
        if start and ch in _UK_LATIN_WORD_START:
            out.append(_UK_LATIN_WORD_START[ch])
        else:
            out.append(_UK_LATIN.get(ch, ch))
        start = not ch.isalpha()
    plain = unicodedata.normalize("NFKD", "".join(out))
    return "".join(ch for ch in plain if ch.isascii())


def _ascii_word(text: str) -> str:
    return "".join(ch for ch in _latin(text) if ch.isalnum())


class _Planner:
    def __init__(self, *, seed: int, now: datetime, sizes: DemoSizes) -> None:
        self.rng = random.Random(seed)
        self.fakers: dict[str, Faker] = {}
        for i, locale in enumerate(LOCALES):
            fake = Faker(locale)
            fake.seed_instance(seed * 100 + i)
            self.fakers[locale] = fake
        self.now = now.astimezone(UTC)
        self.sizes = sizes
        self.live_from = self.now - timedelta(days=sizes.live_days)
        # Membership only (never iterated): sets would iterate in a per-process order.
        self.emails: set[str] = set()
        self.tails: set[str] = set()
        self.places: set[tuple[str, str, str]] = set()
        self.trackings: set[str] = set()

    # ------------------------------------------------------------ helpers

    def pick(self, weighted: Sequence[tuple[Any, float]]) -> Any:
        return self.rng.choices([item for item, _w in weighted], [w for _i, w in weighted])[0]

    def minutes(self, low: float, high: float) -> timedelta:
        return timedelta(seconds=round(self.rng.uniform(low, high) * 60))

    def working(self, at: datetime) -> datetime:
        """`at`, or the next morning if the shop's staff are not at work then (9:00–20:00)."""
        local = at.astimezone(KYIV)
        if 9 <= local.hour < 20:
            return at
        day = local.date() if local.hour < 9 else local.date() + timedelta(days=1)
        start = datetime.combine(day, time(9), tzinfo=KYIV) + self.minutes(0, 50)
        return start.astimezone(UTC)

    def daytime(self, at: datetime) -> datetime:
        """`at`, or some time the next day if it falls at night: parcels arrive and are
        collected in the day (8:00–21:00)."""
        local = at.astimezone(KYIV)
        if 8 <= local.hour < 21:
            return at
        day = local.date() if local.hour < 8 else local.date() + timedelta(days=1)
        return (datetime.combine(day, time(8), tzinfo=KYIV) + self.minutes(0, 780)).astimezone(UTC)

    def pickup(self, at: datetime) -> datetime:
        """The carrier collects parcels at the end of the day."""
        local = at.astimezone(KYIV)
        day = local.date() if local.hour < 17 else local.date() + timedelta(days=1)
        return (datetime.combine(day, time(18), tzinfo=KYIV) + self.minutes(0, 90)).astimezone(UTC)

    # ------------------------------------------------------------ the plan

    def plan(self) -> DemoPlan:
        products = self.catalog()
        skus = [sku for product in products for sku in product.skus]
        self.sku_weights = self.popularity(skus)
        self.skus = skus
        base = max(self.sizes.customers - self.sizes.duplicate_pairs, 0)
        customers = [self.customer() for _ in range(base)]
        duplicates = self.twins(customers)
        twins = {id(twin) for _original, twin in duplicates}
        customers += [twin for _original, twin in duplicates]
        orders = self.orders(customers, twins)
        self.created_at(customers)
        customers.sort(key=lambda c: c.created_at)
        orders.sort(key=lambda o: o.placed_at)
        for i, order in enumerate(orders):
            order.number = str(FIRST_ORDER_NUMBER + 1 + i)
        # The latest few wait to be confirmed whatever the hour: in the evening the day's
        # orders had all been confirmed within their 20 minutes to 4 hours, and an owner
        # opening the demo then found nothing new to take.
        for order in orders[-WAITING_NEW:]:
            order.steps = [step for step in order.steps if step.kind in BEFORE_CONFIRMATION]
        self.tag(customers)
        plan = DemoPlan(
            now=self.now,
            live_from=self.live_from,
            catalog_at=self.now - timedelta(days=self.sizes.days + 90),
            stocktake_at=self.now,
            products=tuple(products),
            customers=tuple(customers),
            orders=tuple(orders),
            notes=(),
            consents=(),
            duplicates=tuple(duplicates),
            stock={},
        )
        # Counted the evening before the first order placed through the services.
        first_live = min(
            (o.placed_at for o in orders if plan.order_is_live(o)), default=self.live_from
        )
        return replace(
            plan,
            stocktake_at=min(first_live, self.live_from) - timedelta(hours=20),
            notes=self.notes(plan),
            consents=self.consents(plan),
            stock=self.stock(plan),
        )

    def catalog(self) -> list[ProductPlan]:
        products = []
        for code, name, price, variants, kind in CATALOG:
            skus = tuple(
                SkuPlan(
                    code=f"{code}-{suffix}" if suffix else code,
                    product=name,
                    name=variant,
                    price=Decimal(variant_price if variant_price is not None else price or 0),
                    allow_backorder=kind == "gift",
                    category=kind,
                )
                for suffix, variant, variant_price in (variants or (("", "", price),))
            )
            products.append(ProductPlan(name=name, description=DESCRIPTIONS[kind], skus=skus))
        return products

    def popularity(self, skus: list[SkuPlan]) -> list[float]:
        # A few bestsellers and a long tail: 1/rank over a shuffled ranking.
        ranks = list(range(1, len(skus) + 1))
        self.rng.shuffle(ranks)
        return [
            CATEGORY_DEMAND[sku.category] / rank**0.7 for sku, rank in zip(skus, ranks, strict=True)
        ]

    # ------------------------------------------------------------ customers

    def customer(self) -> CustomerPlan:
        rng = self.rng
        country = self.pick(COUNTRIES)
        ukrainian = country == "UA" or rng.random() < UKRAINIANS_ABROAD[country]
        first, last = self.name("uk_UA" if ukrainian else LOCALE_OF[country])
        name_key = normalise.text_key(f"{first} {last}")
        addresses = [self.address(country, name_key)]
        if rng.random() < 0.08:
            addresses.append(self.address(country, name_key))
        phone = self.phone(country, addresses[0]) if rng.random() < 0.97 else ""
        wholesale = country == "UA" and rng.random() < 0.02
        company = ""
        if wholesale:
            company = rng.choice(COMPANIES) if rng.random() < 0.5 else f"ФОП {last} {first[0]}."
        email_consent = self.pick(
            ((ConsentState.GRANTED, 42), (ConsentState.DENIED, 8), (ConsentState.UNKNOWN, 50))
        )
        sms_consent = self.pick(
            ((ConsentState.GRANTED, 20), (ConsentState.DENIED, 6), (ConsentState.UNKNOWN, 74))
        )
        asked = ConsentState.GRANTED in (email_consent, sms_consent) or (
            ConsentState.DENIED in (email_consent, sms_consent)
        )
        return CustomerPlan(
            first_name=first,
            last_name=last,
            country=country,
            email=self.email(first, last, country),
            phone=phone,
            phone_typed=self.typed(phone),
            addresses=addresses,
            company=company,
            source=self.pick(CUSTOMER_SOURCES),
            email_consent=email_consent,
            sms_consent=sms_consent,
            consent_source=self.pick((("checkout", 80), ("newsletter form", 20))) if asked else "",
            wholesale=wholesale,
        )

    def name(self, locale: str) -> tuple[str, str]:
        fake = self.fakers[locale]
        if self.rng.random() < 0.7:  # ceramics and textiles: most buyers are women
            return fake.first_name_female(), fake.last_name_female()
        return fake.first_name_male(), fake.last_name_male()

    def email(self, first: str, last: str, country: str) -> str:
        rng = self.rng
        f, la = _ascii_word(first) or "info", _ascii_word(last) or "mail"
        local = rng.choice(
            (
                f"{f}.{la}",
                f"{f}{la}",
                f"{f[0]}.{la}",
                f"{la}.{f}",
                f"{f}.{la}{rng.randint(70, 99)}",
                f"{f}_{la}",
                f"{la}{f[0]}",
            )
        )
        domain = self.pick(EMAIL_DOMAINS[country])
        email = f"{local}@{domain}"
        while email in self.emails:
            email = f"{local}{rng.randint(1, 999)}@{domain}"
        self.emails.add(email)
        return email

    def phone(self, country: str, address: AddressPlan) -> str:
        while True:
            try:
                phone = normalise.phone_normalise(self.phone_candidate(country, address))
            except DomainError:
                continue
            # Unique in its last nine digits too: only planted pairs share them.
            if phone.tail not in self.tails:
                self.tails.add(phone.tail)
                return phone.e164

    def phone_candidate(self, country: str, address: AddressPlan) -> str:
        rng = self.rng
        digits = f"{rng.randrange(10**7):07d}"
        if country == "UA":
            return f"+380{self.pick(UA_MOBILE)}{digits}"
        if country == "PL":
            return f"+48{rng.choice(PL_MOBILE)}{digits}"
        if country == "DE":
            return f"+49{rng.choice(DE_MOBILE)}{digits}{rng.randrange(10)}"
        if country == "GB":
            return f"+447{rng.randint(4, 9)}{rng.randrange(10**8):08d}"
        area = next(codes for city, _s, _a, _b, codes, _w in US_CITIES if city == address.city)
        return f"+1{rng.choice(area)}{rng.randint(201, 989)}{rng.randrange(10**4):04d}"

    def typed(self, e164: str) -> str:
        """The number as a person types it at the checkout: the services normalise it."""
        if not e164:
            return ""
        if not e164.startswith("+380"):
            spaced = phonenumbers.format_number(
                phonenumbers.parse(e164), phonenumbers.PhoneNumberFormat.INTERNATIONAL
            )
            return self.rng.choice((e164, spaced))
        digits = e164[4:]
        return self.rng.choice(
            (
                e164,
                f"0{digits}",
                f"0{digits[:2]} {digits[2:5]} {digits[5:7]} {digits[7:]}",
                f"+38 (0{digits[:2]}) {digits[2:5]}-{digits[5:7]}-{digits[7:]}",
                f"(0{digits[:2]}) {digits[2:]}",
            )
        )

    def address(self, country: str, name_key: str) -> AddressPlan:
        while True:
            address = self.address_candidate(country)
            keys = _place_keys(name_key, address)
            # Namesakes at one place are what the duplicates page looks for: only plant them.
            if not any(key in self.places for key in keys):
                self.places.update(keys)
                return address

    def address_candidate(self, country: str) -> AddressPlan:
        rng = self.rng
        if country == "UA":
            city, region, low, high, _w, branches = self.pick([(c, c[4]) for c in UA_CITIES])
            if rng.random() < 0.55:
                line1 = f"Нова пошта, відділення №{rng.randint(1, branches)}"
                return AddressPlan(line1, city, region, "", country)
            street = self.fakers["uk_UA"].street_name()
            line1 = f"вул. {street}, {self.building()}"
            if rng.random() < 0.6:
                line1 += f", кв. {rng.randint(1, 180)}"
            return AddressPlan(line1, city, region, f"{rng.randint(low, high):05d}", country)
        if country == "PL":
            city, region, low, high, _w = self.pick([(c, c[4]) for c in PL_CITIES])
            code = rng.randint(low, high)
            line1 = f"ul. {self.fakers['pl_PL'].street_name()} {rng.randint(1, 150)}"
            if rng.random() < 0.5:
                line1 += f"/{rng.randint(1, 60)}"
            return AddressPlan(
                line1, city, region, f"{code // 1000:02d}-{code % 1000:03d}", country
            )
        if country == "DE":
            city, region, low, high, _w = self.pick([(c, c[4]) for c in DE_CITIES])
            line1 = f"{self.fakers['de_DE'].street_name()} {rng.randint(1, 180)}"
            return AddressPlan(line1, city, region, f"{rng.randint(low, high):05d}", country)
        if country == "GB":
            city, outward, _w = self.pick([(c, c[2]) for c in GB_CITIES])
            inward = f"{rng.randint(1, 9)}{''.join(rng.choices(GB_INWARD_LETTERS, k=2))}"
            surname = self.fakers["en_GB"].last_name()
            line1 = f"{rng.randint(1, 220)} {surname} {rng.choice(GB_STREET_KINDS)}"
            return AddressPlan(line1, city, "", f"{rng.choice(outward)} {inward}", country)
        city, state, low, high, _codes, _w = self.pick([(c, c[5]) for c in US_CITIES])
        line1 = f"{rng.randint(10, 9800)} {rng.choice(US_STREETS)} {rng.choice(US_STREET_KINDS)}"
        if rng.random() < 0.3:
            line1 += f", Apt {rng.randint(1, 40)}"
        return AddressPlan(line1, city, state, f"{rng.randint(low, high):05d}", country)

    def building(self) -> str:
        number = str(self.rng.randint(1, 140))
        return number + self.rng.choice("аб") if self.rng.random() < 0.1 else number

    def twins(self, customers: list[CustomerPlan]) -> list[tuple[CustomerPlan, CustomerPlan]]:
        """The same person typed in twice: half by a phone typed after "+48", half at one place."""
        rng = self.rng
        wanted = min(self.sizes.duplicate_pairs, len(customers))
        by_phone = [
            c
            for c in customers
            if c.phone.startswith("+380") and c.phone[4:6] in UA_MOBILE_VALID_IN_PL
        ]
        at_place = [c for c in customers if c.country == "UA"]
        rng.shuffle(by_phone)
        rng.shuffle(at_place)
        pairs: list[tuple[CustomerPlan, CustomerPlan]] = []
        used: set[int] = set()
        for i in range(wanted):
            pool = by_phone if i % 2 == 0 else at_place
            while pool and id(pool[-1]) in used:
                pool.pop()
            if not pool:
                continue
            original = pool.pop()
            used.add(id(original))
            twin = self.twin_by_phone(original) if i % 2 == 0 else self.twin_at_place(original)
            pairs.append((original, twin))
        return pairs

    def twin_by_phone(self, original: CustomerPlan) -> CustomerPlan:
        # Typed on a form that defaulted to Poland: +48 and the same nine digits, a valid
        # Polish number with the same tail.
        phone = normalise.phone_normalise(f"+48{original.phone[4:]}")
        latin = self.rng.random() < 0.5
        first = _latin(original.first_name).title() if latin else original.first_name
        last = _latin(original.last_name).title() if latin else original.last_name
        name_key = normalise.text_key(f"{first} {last}")
        return CustomerPlan(
            first_name=first,
            last_name=last,
            country=original.country,
            email=self.email(original.first_name, original.last_name, original.country),
            phone=phone.e164,
            phone_typed=f"+48 {original.phone[4:6]} {original.phone[6:9]} {original.phone[9:]}",
            addresses=[self.address(original.country, name_key)],
            source=self.pick(CUSTOMER_SOURCES),
        )

    def twin_at_place(self, original: CustomerPlan) -> CustomerPlan:
        # Same name (perhaps typed in lower case) and the same address; another email, and
        # a new phone or none.
        lower = self.rng.random() < 0.3
        first = original.first_name.lower() if lower else original.first_name
        last = original.last_name.lower() if lower else original.last_name
        phone = (
            self.phone(original.country, original.addresses[0]) if self.rng.random() < 0.7 else ""
        )
        return CustomerPlan(
            first_name=first,
            last_name=last,
            country=original.country,
            email=self.email(original.first_name, original.last_name, original.country),
            phone=phone,
            phone_typed=self.typed(phone),
            addresses=[original.addresses[0]],
            source=self.pick(CUSTOMER_SOURCES),
        )

    # ------------------------------------------------------------ orders

    def orders(self, customers: list[CustomerPlan], twins: set[int]) -> list[OrderPlan]:
        """Each buyer's first order falls somewhere in the year, their next ones after it."""
        rng = self.rng
        self.calendar()
        # A planted twin bought once; one in eight never bought; two in five of the rest
        # bought once; the others come back along a long tail (wholesale buyers most),
        # fewer times the later they first came.
        buyers = [c for c in customers if id(c) in twins or rng.random() >= 0.12]
        rng.shuffle(buyers)
        buyers = buyers[: self.sizes.orders]
        firsts = {id(c): self.sample_time(None) for c in buyers}
        regulars = [c for c in buyers if id(c) not in twins]
        span = timedelta(days=self.sizes.days).total_seconds()
        weights = [
            0.0
            if rng.random() < 0.4
            else min(rng.paretovariate(1.2), 14.0)
            * (5.0 if c.wholesale else 1.0)
            * (self.now - firsts[id(c)]).total_seconds()
            / span
            for c in regulars
        ]
        if not any(weights):
            weights = [1.0] * len(regulars)
        extra = _apportion(self.sizes.orders - len(buyers), weights)
        more = dict(zip([id(c) for c in regulars], extra, strict=True))
        orders = []
        for customer in buyers:
            first = firsts[id(customer)]
            times = [first] + [self.sample_time(first) for _ in range(more.get(id(customer), 0))]
            for at in sorted(times):
                order = self.order(customer, at)
                customer.orders.append(order)
                orders.append(order)
        return orders

    def calendar(self) -> None:
        """How likely an order is on each day of the history, oldest first (today: so far)."""
        local_now = self.now.astimezone(KYIV)
        today = local_now.date()
        elapsed = sum(HOUR_WEIGHTS[: local_now.hour]) + HOUR_WEIGHTS[local_now.hour] * (
            local_now.minute / 60
        )
        self.days: list[date] = []
        self.cumulative: list[float] = []
        total = 0.0
        for age in reversed(range(self.sizes.days)):
            day = today - timedelta(days=age)
            weight = _day_weight(day, age, self.sizes.days)
            total += weight * elapsed / sum(HOUR_WEIGHTS) if age == 0 else weight
            self.days.append(day)
            self.cumulative.append(total)

    def sample_time(self, after: datetime | None) -> datetime:
        """A moment of the history after `after`, busy days and hours more likely."""
        low = 0.0
        if after is not None:
            first_day = bisect.bisect_left(self.days, after.astimezone(KYIV).date())
            low = self.cumulative[first_day - 1] if first_day > 0 else 0.0
        for _attempt in range(100):
            u = self.rng.uniform(low, self.cumulative[-1])
            index = min(bisect.bisect_left(self.cumulative, u), len(self.days) - 1)
            at = self.time_on(self.days[index])
            if after is None or at > after:
                return at
        assert after is not None
        return after + (self.now - after) * self.rng.random()

    def time_on(self, day: date) -> datetime:
        while True:
            hour = self.rng.choices(range(24), HOUR_WEIGHTS)[0]
            local = datetime.combine(
                day, time(hour, self.rng.randrange(60), self.rng.randrange(60)), tzinfo=KYIV
            )
            at = local.astimezone(UTC)
            if at <= self.now:
                return at

    def order(self, customer: CustomerPlan, at: datetime) -> OrderPlan:
        rng = self.rng
        lines = self.lines(customer)
        subtotal = sum((line.sku.price * line.quantity for line in lines), ZERO)
        discount = ZERO
        if customer.wholesale:
            discount = (subtotal * Decimal("0.15" if subtotal >= 20000 else "0.10")).quantize(
                Decimal(1)
            )
        elif rng.random() < 0.12:
            discount = (
                subtotal * rng.choice((Decimal("0.05"), Decimal("0.1"), Decimal("0.15")))
            ).quantize(Decimal(1))
        abroad = customer.country != "UA"
        shipping = Decimal(SHIPPING_ABROAD.get(customer.country, 0))
        totals = order_totals(
            lines=[PricedLine(line.quantity, line.sku.price) for line in lines],
            currency=CURRENCY,
            order_discount=discount,
            shipping=shipping,
        )
        if customer.wholesale:
            method = self.pick(((PaymentMethod.BANK_TRANSFER, 80), (PaymentMethod.CARD, 20)))
        elif abroad:
            method = self.pick(((PaymentMethod.CARD, 92), (PaymentMethod.BANK_TRANSFER, 8)))
        else:
            method = self.pick(
                (
                    (PaymentMethod.CARD, 52),
                    (PaymentMethod.CASH_ON_DELIVERY, 40),
                    (PaymentMethod.BANK_TRANSFER, 8),
                )
            )
        carrier = self.pick(CARRIERS_ABROAD if abroad else CARRIERS_UA)
        channel, _w, sources = self.pick([(c, c[1]) for c in ORDER_CHANNELS])
        address = customer.addresses[0] if rng.random() < 0.85 else rng.choice(customer.addresses)
        order = OrderPlan(
            customer=customer,
            placed_at=at,
            lines=lines,
            totals=totals,
            discount=discount,
            shipping=shipping,
            method=method,
            carrier=carrier,
            tracking=self.tracking(carrier, abroad),
            channel=channel,
            source=rng.choice(sources),
            note=rng.choice(ORDER_COMMENTS) if rng.random() < 0.07 else "",
            ship_country=address.country,
        )
        order.steps = [step for step in self.lifecycle(order) if step.at <= self.now]
        return order

    def lines(self, customer: CustomerPlan) -> tuple[LinePlan, ...]:
        rng = self.rng
        count = rng.choices((1, 2, 3, 4), (50, 28, 14, 8))[0]
        picked: list[SkuPlan] = []
        while len(picked) < count:
            sku = rng.choices(self.skus, self.sku_weights)[0]
            if sku not in picked:
                picked.append(sku)
        lines = []
        for sku in picked:
            if sku.category == "gift":
                quantity = 1
            elif customer.wholesale:
                quantity = rng.randint(4, 20)
            else:
                quantity = rng.choices((1, 2, 3), (82, 14, 4))[0]
            lines.append(LinePlan(sku=sku, quantity=quantity))
        return tuple(lines)

    def tracking(self, carrier: str, abroad: bool) -> str:
        rng = self.rng
        while True:
            if carrier == "Нова пошта":
                number = f"2045{rng.randrange(10**10):010d}"
            elif carrier == "Укрпошта":
                number = (
                    f"RR{rng.randrange(10**9):09d}UA"
                    if abroad
                    else f"05{rng.randrange(10**11):011d}"
                )
            else:
                number = f"MYCV{rng.randrange(10**10):010d}"
            if number not in self.trackings:
                self.trackings.add(number)
                return number

    def lifecycle(self, order: OrderPlan) -> list[Step]:
        """What happens to the order from checkout on; the caller keeps what happened by now."""
        rng = self.rng
        steps: list[Step] = []
        total = order.totals.total
        method = order.method

        def add(at: datetime, kind: str, **extra: Any) -> datetime:
            if steps:
                at = max(at, steps[-1].at + timedelta(seconds=1))
            steps.append(Step(at=at, kind=kind, **extra))
            return at

        def cancel(at: datetime, note: str) -> None:
            actor = rng.choice(SUPPORT)
            if any(s.kind == "paid" for s in steps):
                at = add(at, "refund", actor=actor, amount=total, note=note)
            add(at, "cancelled", actor=actor, note=note)

        t = add(
            order.placed_at,
            "placed",
            actor=rng.choice(CONFIRMERS) if order.channel == "phone" else "",
        )
        if method == PaymentMethod.CARD:
            t = add(t + self.minutes(1, 4), "paid", method=method, amount=total)
        elif method == PaymentMethod.BANK_TRANSFER:
            t = add(t + self.minutes(1, 2), "invoice", method=method, amount=total)
            if rng.random() < 0.2:
                t = add(
                    self.working(t + timedelta(days=2)),
                    "payment_failed",
                    method=method,
                    amount=total,
                )
                cancel(t + self.minutes(1, 5), UNPAID_REASON)
                return steps
            t = add(
                self.working(t + self.minutes(60, 26 * 60)), "paid", method=method, amount=total
            )

        roll = rng.random()
        cancel_at = ""
        fate = "kept"
        if roll < 0.065:
            cancel_at = self.pick((("new", 50), ("confirmed", 35), ("packed", 15)))
        elif roll < 0.085:
            fate = "returned"
        elif roll < 0.095 and sum(line.quantity for line in order.lines) > 1:
            fate = "partly returned"
        elif method == PaymentMethod.CASH_ON_DELIVERY and roll < 0.17:
            fate = "refused"  # the parcel is never collected from the branch

        if cancel_at == "new":
            cancel(self.working(t + self.minutes(10, 240)), rng.choice(CANCEL_REASONS))
            return steps
        t = add(self.working(t + self.minutes(20, 240)), "confirmed", actor=rng.choice(CONFIRMERS))
        if cancel_at == "confirmed":
            cancel(self.working(t + self.minutes(60, 480)), rng.choice(CANCEL_REASONS))
            return steps
        packer = rng.choice(PACKERS)
        t = add(self.working(t + self.minutes(60, 18 * 60)), "packed", actor=packer)
        if cancel_at == "packed":
            cancel(t + self.minutes(30, 240), rng.choice(CANCEL_REASONS))
            return steps
        t = add(t + self.minutes(5, 40), "label", actor=packer)
        t = add(self.pickup(t), "in_transit")
        abroad = order.customer.country != "UA"
        transit = self.minutes(3 * 1440, 9 * 1440) if abroad else self.minutes(720, 2400)
        t = add(self.daytime(t + transit), "arrived")
        support = rng.choice(SUPPORT)
        everything = tuple((i, line.quantity) for i, line in enumerate(order.lines))
        if fate == "refused":
            t = add(self.daytime(t + self.minutes(5 * 1440, 7 * 1440)), "shipment_returned")
            t = add(
                self.working(t + self.minutes(1440, 2880)),
                "return",
                actor=support,
                note=REFUSED_REASON,
                lines=everything,
            )
            add(t + self.minutes(1, 10), "returned", actor=support, note=REFUSED_REASON)
            return steps
        t = add(self.daytime(t + self.minutes(30, 2880)), "delivered")
        if method == PaymentMethod.CASH_ON_DELIVERY:
            t = add(t + self.minutes(1, 5), "paid", method=method, amount=total)
        if fate == "returned":
            reason = rng.choice(RETURN_REASONS)
            t = add(
                self.working(t + self.minutes(2 * 1440, 14 * 1440)),
                "return",
                actor=support,
                note=reason,
                lines=everything,
            )
            t = add(t + self.minutes(5, 60), "refund", actor=support, amount=total, note=reason)
            add(t + self.minutes(1, 10), "returned", actor=support, note=reason)
        elif fate == "partly returned":
            position = rng.randrange(len(order.lines))
            price = order.lines[position].sku.price
            # The unit's share of what was paid for goods: an order discount applies to it too.
            goods = order.totals.subtotal - order.totals.discount_total
            amount = money_quantize(price * goods / order.totals.subtotal, CURRENCY)
            reason = rng.choice(RETURN_REASONS)
            t = add(
                self.working(t + self.minutes(3 * 1440, 14 * 1440)),
                "return",
                actor=support,
                note=reason,
                lines=((position, 1),),
            )
            add(t + self.minutes(5, 60), "refund", actor=support, amount=amount, note=reason)
        return steps

    # ------------------------------------------------------------ after the orders

    def created_at(self, customers: list[CustomerPlan]) -> None:
        """Registered at the first checkout or days before; never-buyers before the last days."""
        rng = self.rng
        start = self.now - timedelta(days=self.sizes.days)
        for customer in customers:
            if customer.orders:
                first = min(order.placed_at for order in customer.orders)
                if rng.random() < 0.2:
                    customer.created_at = first - self.minutes(1440, 60 * 1440)
                else:
                    customer.created_at = first - self.minutes(1, 20)
            else:
                span = max((self.live_from - start).total_seconds(), 60.0)
                customer.created_at = start + timedelta(seconds=round(rng.uniform(0, span)))

    def tag(self, customers: list[CustomerPlan]) -> None:
        rng = self.rng
        spent = {
            id(c): sum(
                (o.totals.total for o in c.orders if o.status != "cancelled"),
                ZERO,
            )
            for c in customers
        }
        by_value = sorted(
            (c for c in customers if c.orders), key=lambda c: spent[id(c)], reverse=True
        )
        vip = {id(c) for c in by_value[: max(1, len(by_value) * 3 // 100)]}
        recent = self.now - timedelta(days=30)
        for customer in customers:
            if id(customer) in vip:
                customer.tags.append(TAG_VIP)
            if customer.wholesale:
                customer.tags.append(TAG_WHOLESALE)
            if customer.created_at >= recent:
                customer.tags.append(TAG_NEW)
            if customer.email_consent == ConsentState.GRANTED and rng.random() < 0.5:
                customer.tags.append(TAG_NEWSLETTER)

    def notes(self, plan: DemoPlan) -> tuple[NotePlan, ...]:
        rng = self.rng
        candidates = [c for c in plan.customers if c.orders]
        notes = []
        for _ in range(min(self.sizes.notes, len(candidates))):
            customer = rng.choice(candidates)
            span = max((self.now - customer.created_at).total_seconds(), 60.0)
            at = self.working(customer.created_at + timedelta(seconds=round(rng.uniform(60, span))))
            if at > self.now:
                at = self.now - timedelta(seconds=1)
            body = rng.choice(NOTE_BODIES)
            notes.append(NotePlan(customer=customer, at=at, author=rng.choice(SUPPORT), body=body))
        return tuple(sorted(notes, key=lambda n: n.at))

    def consents(self, plan: DemoPlan) -> tuple[ConsentPlan, ...]:
        """A few customers of the history unsubscribe in the last days."""
        rng = self.rng
        candidates = [
            c
            for c in plan.customers
            if c.email_consent == ConsentState.GRANTED and not plan.customer_is_live(c)
        ]
        rng.shuffle(candidates)
        span = (self.now - self.live_from).total_seconds()
        changes = [
            ConsentPlan(
                customer=customer,
                at=self.live_from + timedelta(seconds=round(rng.uniform(60, span - 60))),
                kind=IdentityKind.EMAIL,
                state=ConsentState.DENIED,
                source="unsubscribe link",
            )
            for customer in candidates[: self.sizes.consent_changes]
        ]
        return tuple(sorted(changes, key=lambda c: c.at))

    def stock(self, plan: DemoPlan) -> dict[str, int]:
        """What the stocktake before the last days finds: enough for live orders, few of some."""
        rng = self.rng
        demand: dict[str, int] = defaultdict(int)
        for order in plan.orders:
            if plan.order_is_live(order):
                for line in order.lines:
                    demand[line.sku.code] += line.quantity
        counted = {}
        for product in plan.products:
            for sku in product.skus:
                if sku.allow_backorder:
                    continue
                spare = rng.randint(0, 3) if rng.random() < 0.1 else rng.randint(8, 120)
                counted[sku.code] = demand[sku.code] + spare
        return counted


def _place_keys(name_key: str, address: AddressPlan) -> list[tuple[str, str, str]]:
    keys = []
    postcode = normalise.postcode_key(address.postcode)
    if postcode:
        keys.append(("postcode", name_key, postcode))
    place = normalise.place_key(address.city, address.line1)
    if place:
        keys.append(("place", name_key, place))
    return keys


def _day_weight(day: date, age: int, days: int) -> float:
    """How busy a day is: a growing shop, weekly rhythm, gift seasons, a recent campaign."""
    trend = 0.6 + 0.5 * (1 - age / days)
    weekday = (1.0, 1.05, 1.0, 1.0, 0.95, 0.85, 1.1)[day.weekday()]
    season = 1.0
    if day.month == 11 and day.day >= 20:
        season = 1.9  # Black Friday
    elif day.month == 12:
        season = 1.5 if day.day <= 24 else 1.2
    elif day.month == 1 and day.day <= 10:
        season = 0.7
    elif day.month == 3 and day.day <= 7:
        season = 1.35  # gifts for the 8th of March
    elif day.month in (7, 8):
        season = 0.85
    recent = 1.7 if age < 14 else 1.0
    return trend * weekday * season * recent


def _apportion(total: int, weights: Sequence[float]) -> list[int]:
    """`total` split in proportion to `weights` (largest remainders), exactly `total` in all."""
    if total <= 0 or not weights:
        return [0] * len(weights)
    whole = sum(weights)
    shares = [total * w / whole for w in weights]
    counts = [int(share) for share in shares]
    order = sorted(range(len(shares)), key=lambda i: (counts[i] - shares[i], i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


# ---------------------------------------------------------------- loading the plan


def demo_commerce_load(
    *,
    owner: User,
    staff: Mapping[str, User],
    seed: int = 2026,
    sizes: DemoSizes = FULL_SIZE,
    now: datetime | None = None,
) -> DemoCommerceSummary:
    """Customers, catalog and orders of the demo store; nothing if the store has any already.

    Call inside a transaction (demo_store_load's): it all commits or none of it does.
    `staff` is procedo.demo.load's staff by username; work of a missing one is the owner's.
    """
    if Customer.objects.exists() or Order.objects.exists() or Product.objects.exists():
        return DemoCommerceSummary()
    plan = demo_plan(now=now or timezone.now(), seed=seed, sizes=sizes)
    return _Loader(plan, owner=owner, staff=staff).load()


def _last_ids() -> tuple[int, int]:
    """The newest event and stock movement ids, in one statement (asked after every step)."""
    event, movement = (connection.ops.quote_name(m._meta.db_table) for m in (Event, StockMovement))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT MAX(id) FROM {event}), (SELECT MAX(id) FROM {movement})")  # noqa: S608
        last_event, last_movement = cursor.fetchone()
    return int(last_event or 0), int(last_movement or 0)


def _adapt(value: Any) -> Any:
    return connection.ops.adapt_datetimefield_value(value) if isinstance(value, datetime) else value


def _update_many(
    model: type[Model], columns: Sequence[str], where: str, rows: list[tuple[Any, ...]]
) -> None:
    """UPDATE … SET columns WHERE `where`, once per row of parameters (executemany)."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    sets = ", ".join(f"{connection.ops.quote_name(c)} = %s" for c in columns)
    with connection.cursor() as cursor:
        cursor.executemany(
            f"UPDATE {table} SET {sets} WHERE {where}",  # noqa: S608 - names from the models
            [tuple(_adapt(value) for value in row) for row in rows],
        )


class _Backdate:
    """The services stamp what they write with the clock; move each stamp to its step's time.

    Steps run in time order and ids only grow, so the events and stock movements
    a step wrote are the ids above those of the step before.
    """

    def __init__(self) -> None:
        self.last_event, self.last_movement = _last_ids()
        self.events: list[tuple[datetime, int, int]] = []
        self.movements: list[tuple[datetime, int, int]] = []
        self.rows: dict[tuple[type[Model], tuple[str, ...]], list[tuple[Any, ...]]] = defaultdict(
            list
        )

    def row(self, instance: Model, at: datetime, *columns: str) -> None:
        self.rows[(type(instance), columns)].append((*[at] * len(columns), instance.pk))

    def step_done(self, at: datetime) -> None:
        last_event, last_movement = _last_ids()
        if last_event > self.last_event:
            self.events.append((at, self.last_event, last_event))
            self.last_event = last_event
        if last_movement > self.last_movement:
            self.movements.append((at, self.last_movement, last_movement))
            self.last_movement = last_movement

    def apply(self) -> None:
        _update_many(Event, ["occurred_at"], "id > %s AND id <= %s", self.events)
        _update_many(StockMovement, ["created_at"], "id > %s AND id <= %s", self.movements)
        for (model, columns), rows in self.rows.items():
            _update_many(model, columns, "id = %s", rows)


@dataclass
class _LiveOrder:
    """What the services made for one order so far: its id, payments, shipment, lines."""

    id: int
    payments: dict[str, int] = field(default_factory=dict)  # method -> payment id
    shipment_id: int | None = None
    line_ids: list[int] = field(default_factory=list)


PAYMENT_COLUMNS = (
    "order_id",
    "method",
    "amount",
    "currency",
    "status",
    "external_id",
    "paid_at",
    "created_at",
)
REFUND_COLUMNS = (
    "order_id",
    "payment_id",
    "amount",
    "currency",
    "reason",
    "created_at",
    "actor_id",
)
SHIPMENT_COLUMNS = (
    "order_id",
    "carrier",
    "tracking_number",
    "status",
    "status_changed_at",
    "delivered_at",
    "created_at",
)
SHIPMENT_CHANGE_COLUMNS = (
    "shipment_id",
    "from_status",
    "to_status",
    "note",
    "occurred_at",
    "actor_id",
)
RETURN_COLUMNS = ("order_id", "status", "reason", "restock", "received_at", "created_at")


def _insert(model: type[Model], columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    if rows:
        rows_insert(model, columns, [tuple(_adapt(value) for value in row) for row in rows])


class _Loader:
    def __init__(self, plan: DemoPlan, *, owner: User, staff: Mapping[str, User]) -> None:
        self.plan = plan
        self.owner = owner
        self.staff = staff
        self.sku_ids: dict[str, int] = {}
        self.customer_ids: dict[int, int] = {}  # id(CustomerPlan) -> Customer id
        self.live_orders: dict[str, _LiveOrder] = {}  # number -> what the services made
        self.order_ids: dict[str, int] = {}
        self.live_customers: list[int] = []
        self.backdate = _Backdate()

    def actor(self, username: str) -> User | None:
        if not username:
            return None
        return self.staff.get(username, self.owner)

    def actor_id(self, username: str) -> int | None:
        actor = self.actor(username)
        return actor.pk if actor is not None else None

    def customer_id(self, customer: CustomerPlan) -> int:
        return self.customer_ids[id(customer)]

    def load(self) -> DemoCommerceSummary:
        plan = self.plan
        self.catalog()
        history_customers = [c for c in plan.customers if not plan.customer_is_live(c)]
        history_orders = [o for o in plan.orders if not plan.order_is_live(o)]
        history_notes = [n for n in plan.notes if n.at < plan.live_from]
        self.customers_write(history_customers)
        self.orders_write(history_orders)
        self.history_events(history_customers, history_orders, history_notes)
        # The history's rows carry their own times; only the steps from here on are backdated.
        self.backdate = _Backdate()
        self.live()
        self.finish()
        return self.summary()

    # ------------------------------------------------------------ catalog

    def catalog(self) -> None:
        at = self.plan.catalog_at
        manager = self.staff.get("olena", self.owner)
        for product_plan in self.plan.products:
            product = catalog_services.product_create(
                name=product_plan.name, description=product_plan.description, actor=manager
            )
            self.backdate.row(product, at, "created_at")
            for sku_plan in product_plan.skus:
                sku = catalog_services.sku_create(
                    product_id=product.pk,
                    code=sku_plan.code,
                    name=sku_plan.name,
                    price=sku_plan.price,
                    currency=CURRENCY,
                    allow_backorder=sku_plan.allow_backorder,
                    actor=manager,
                )
                self.backdate.row(sku, at, "created_at")
                self.sku_ids[sku_plan.code] = sku.pk
        self.backdate.step_done(at)
        self.backdate.apply()

    # ------------------------------------------------------------ history, set-based

    def customers_write(self, customers: list[CustomerPlan]) -> None:
        created = Customer.objects.bulk_create(
            [
                Customer(
                    first_name=c.first_name,
                    last_name=c.last_name,
                    company=c.company,
                    country=c.country,
                    source=c.source,
                    created_at=c.created_at,
                )
                for c in customers
            ],
            batch_size=1000,
        )
        for plan, row in zip(customers, created, strict=True):
            self.customer_ids[id(plan)] = row.pk
        identities: list[tuple[Any, ...]] = []
        addresses: list[tuple[Any, ...]] = []
        for c in customers:
            pk = self.customer_id(c)
            consent_at = c.created_at if c.consent_source else None
            if c.email:
                identities.append(
                    (
                        pk,
                        IdentityKind.EMAIL,
                        c.email,
                        "",
                        c.email_consent,
                        consent_at if c.email_consent != ConsentState.UNKNOWN else None,
                        c.consent_source if c.email_consent != ConsentState.UNKNOWN else "",
                        c.created_at,
                    )
                )
            if c.phone:
                identities.append(
                    (
                        pk,
                        IdentityKind.PHONE,
                        c.phone,
                        normalise.phone_normalise(c.phone).tail,
                        c.sms_consent,
                        consent_at if c.sms_consent != ConsentState.UNKNOWN else None,
                        c.consent_source if c.sms_consent != ConsentState.UNKNOWN else "",
                        c.created_at,
                    )
                )
            addresses.extend(
                (
                    pk,
                    AddressKind.SHIPPING,
                    a.line1,
                    "",
                    a.city,
                    a.region,
                    a.postcode,
                    a.country,
                    normalise.postcode_key(a.postcode),
                    normalise.place_key(a.city, a.line1),
                    c.created_at,
                )
                for a in c.addresses
            )
        _insert(
            Identity,
            (
                "customer_id",
                "kind",
                "value",
                "phone_tail",
                "marketing_consent",
                "consent_changed_at",
                "consent_source",
                "created_at",
            ),
            identities,
        )
        _insert(
            Address,
            (
                "customer_id",
                "kind",
                "line1",
                "line2",
                "city",
                "region",
                "postcode",
                "country",
                "postcode_key",
                "place_key",
                "created_at",
            ),
            addresses,
        )
        names = [TAG_VIP, TAG_WHOLESALE, TAG_NEW, TAG_NEWSLETTER]
        Tag.objects.bulk_create(
            [Tag(name=name, name_key=normalise.text_key(name)) for name in names],
            ignore_conflicts=True,
        )
        tag_ids = dict(Tag.objects.values_list("name_key", "id"))
        _insert(
            CustomerTag,
            ("customer_id", "tag_id", "created_at"),
            [
                (self.customer_id(c), tag_ids[normalise.text_key(tag)], c.created_at)
                for c in customers
                for tag in c.tags
            ],
        )
        bulk_services.customer_search_reindex(customer_ids=[row.pk for row in created])

    def orders_write(self, orders: list[OrderPlan]) -> None:
        order_rows = []
        for order in orders:
            status, status_at = "new", order.placed_at
            stamps: dict[str, datetime] = {}
            received = ZERO
            for step in order.steps:
                if step.kind in STATUS_OF_STEP:
                    status, status_at = STATUS_OF_STEP[step.kind], step.at
                if step.kind in FIRST_TIME_OF_STEP:
                    stamps.setdefault(FIRST_TIME_OF_STEP[step.kind], step.at)
                if step.kind == "paid":
                    received += step.amount
                    if received >= order.totals.total:
                        stamps.setdefault("paid_at", step.at)
            totals = order.totals
            row = {
                "number": order.number,
                "kind": OrderKind.SALE,
                "customer_id": self.customer_id(order.customer),
                "status_id": status,
                "currency": CURRENCY,
                "subtotal": totals.subtotal,
                "discount_total": totals.discount_total,
                "shipping_total": totals.shipping_total,
                "total": totals.total,
                "placed_at": order.placed_at,
                "status_changed_at": status_at,
                **stamps,
                "ship_country": order.ship_country,
                "channel": order.channel,
                "source": order.source,
                "stock_state": StockState.NONE,
                "note": order.note,
                "created_at": order.placed_at,
            }
            order_rows.append(tuple(row.get(name) for name in ORDER_COLUMNS))
        _insert(Order, ORDER_COLUMNS, order_rows)
        self.order_ids = dict(Order.objects.values_list("number", "id"))
        _insert(
            OrderLine,
            LINE_COLUMNS,
            [
                (
                    self.order_ids[order.number],
                    self.sku_ids[line.sku.code],
                    line.sku.code,
                    line.sku.description[:300],
                    line.quantity,
                    line.sku.price,
                    ZERO,
                    line_total,
                )
                for order in orders
                for line, line_total in zip(order.lines, order.totals.line_totals, strict=True)
            ],
        )
        self.payments_write(orders)
        self.shipments_write(orders)
        self.returns_write(orders)

    def payments_write(self, orders: list[OrderPlan]) -> None:
        # external id -> [order id, method, amount, status, paid_at, created_at]
        payments: dict[str, list[Any]] = {}
        refunds: list[tuple[OrderPlan, Step]] = []
        for order in orders:
            order_id = self.order_ids[order.number]
            for step in order.steps:
                key = f"{step.method}-{order.number}"
                if step.kind == "invoice":
                    payments[key] = [
                        order_id,
                        step.method,
                        step.amount,
                        PaymentStatus.PENDING,
                        None,
                        step.at,
                    ]
                elif step.kind == "paid":
                    row = payments.setdefault(
                        key,
                        [order_id, step.method, step.amount, PaymentStatus.PAID, step.at, step.at],
                    )
                    row[3], row[4] = PaymentStatus.PAID, step.at
                elif step.kind == "payment_failed":
                    payments[key][3] = PaymentStatus.FAILED
                elif step.kind == "refund":
                    refunds.append((order, step))
        refunded: dict[str, Decimal] = defaultdict(Decimal)
        paid_key = {}
        for order, step in refunds:
            method = order.method
            paid_key[id(step)] = f"{method}-{order.number}"
            refunded[f"{method}-{order.number}"] += step.amount
        for key, amount in refunded.items():
            if amount == payments[key][2]:
                payments[key][3] = PaymentStatus.REFUNDED
        _insert(
            Payment,
            PAYMENT_COLUMNS,
            [(o, m, a, CURRENCY, s, key, p, c) for key, (o, m, a, s, p, c) in payments.items()],
        )
        payment_ids = dict(Payment.objects.values_list("external_id", "id"))
        _insert(
            Refund,
            REFUND_COLUMNS,
            [
                (
                    self.order_ids[order.number],
                    payment_ids[paid_key[id(step)]],
                    step.amount,
                    CURRENCY,
                    step.note,
                    step.at,
                    self.actor_id(step.actor),
                )
                for order, step in refunds
            ],
        )

    def shipments_write(self, orders: list[OrderPlan]) -> None:
        shipments = []
        for order in orders:
            label = next((s for s in order.steps if s.kind == "label"), None)
            if label is None:
                continue
            scans = [s for s in order.steps if s.kind in SHIPMENT_OF_STEP]
            last = scans[-1] if scans else label
            delivered = next((s.at for s in scans if s.kind == "delivered"), None)
            shipments.append(
                (
                    self.order_ids[order.number],
                    order.carrier,
                    order.tracking,
                    SHIPMENT_OF_STEP.get(last.kind, ShipmentStatus.CREATED),
                    last.at,
                    delivered,
                    label.at,
                )
            )
        _insert(Shipment, SHIPMENT_COLUMNS, shipments)
        shipment_ids = dict(Shipment.objects.values_list("order_id", "id"))
        changes = []
        for order in orders:
            shipment_id = shipment_ids.get(self.order_ids[order.number])
            if shipment_id is None:
                continue
            previous = ""
            for step in order.steps:
                if step.kind == "label":
                    changes.append(
                        (
                            shipment_id,
                            "",
                            ShipmentStatus.CREATED,
                            "",
                            step.at,
                            self.actor_id(step.actor),
                        )
                    )
                    previous = ShipmentStatus.CREATED
                elif step.kind in SHIPMENT_OF_STEP:
                    status = SHIPMENT_OF_STEP[step.kind]
                    changes.append((shipment_id, previous, status, "", step.at, None))
                    previous = status
        _insert(ShipmentStatusChange, SHIPMENT_CHANGE_COLUMNS, changes)

    def returns_write(self, orders: list[OrderPlan]) -> None:
        returning = [(o, s) for o in orders for s in o.steps if s.kind == "return"]
        _insert(
            Return,
            RETURN_COLUMNS,
            [
                (self.order_ids[o.number], ReturnStatus.RECEIVED, s.note, True, s.at, s.at)
                for o, s in returning
            ],
        )
        order_ids = [self.order_ids[o.number] for o, _s in returning]
        return_ids = dict(Return.objects.values_list("order_id", "id"))
        line_ids: dict[int, list[int]] = defaultdict(list)
        for order_id, line_id in (
            OrderLine.objects.filter(order_id__in=order_ids)
            .order_by("id")
            .values_list("order_id", "id")
        ):
            line_ids[order_id].append(line_id)
        _insert(
            ReturnLine,
            ("return_request_id", "order_line_id", "quantity"),
            [
                (
                    return_ids[self.order_ids[o.number]],
                    line_ids[self.order_ids[o.number]][position],
                    quantity,
                )
                for o, s in returning
                for position, quantity in s.lines
            ],
        )

    def history_events(
        self, customers: list[CustomerPlan], orders: list[OrderPlan], notes: list[NotePlan]
    ) -> None:
        note_rows = Note.objects.bulk_create(
            [
                Note(
                    customer_id=self.customer_id(n.customer),
                    author=self.actor(n.author),
                    body=n.body,
                    created_at=n.at,
                )
                for n in notes
            ]
        )
        events = [
            NewEvent(
                event_type="customer.imported",
                subject_type="customer",
                subject_id=self.customer_id(c),
                customer_id=self.customer_id(c),
                payload={"source": SOURCE},
                occurred_at=c.created_at,
            )
            for c in customers
        ]
        events += [
            NewEvent(
                event_type="order.imported",
                subject_type="order",
                subject_id=self.order_ids[o.number],
                customer_id=self.customer_id(o.customer),
                payload={
                    "number": o.number,
                    "kind": OrderKind.SALE,
                    "status": o.status,
                    "total": str(o.totals.total),
                    "currency": CURRENCY,
                    "source": SOURCE,
                },
                occurred_at=o.placed_at,
            )
            for o in orders
        ]
        events += [
            NewEvent(
                event_type="customer.note_added",
                subject_type="customer",
                subject_id=row.customer_id,
                customer_id=row.customer_id,
                actor_id=row.author_id,
                payload={"note_id": row.pk, "excerpt": row.body[:80]},
                occurred_at=n.at,
            )
            for n, row in zip(notes, note_rows, strict=True)
        ]
        # In time order, so every timeline (read by id) reads in time order too.
        events.sort(key=lambda e: e.occurred_at or self.plan.now)
        events_record_many(events)

    # ------------------------------------------------------------ the last days, by the services

    def live(self) -> None:
        plan = self.plan
        timeline: list[tuple[datetime, int, Callable[[], None]]] = []

        def at(when: datetime, action: Callable[[], None]) -> None:
            timeline.append((when, len(timeline), action))

        at(plan.stocktake_at, self.stocktake)
        for customer in plan.customers:
            if plan.customer_is_live(customer):
                at(customer.created_at, partial(self.customer_create, customer))
        for order in plan.orders:
            if plan.order_is_live(order):
                for step in order.steps:
                    at(step.at, partial(self.order_step, order, step))
        for note in plan.notes:
            if note.at >= plan.live_from:
                at(note.at, partial(self.note_add, note))
        for change in plan.consents:
            at(change.at, partial(self.consent_set, change))
        timeline.sort(key=lambda item: (item[0], item[1]))
        for when, _seq, action in timeline:
            action()
            self.backdate.step_done(when)

    def stocktake(self) -> None:
        counter = self.staff.get("taras", self.owner)
        for code, counted in self.plan.stock.items():
            catalog_services.stock_adjust(
                sku_id=self.sku_ids[code], counted=counted, note=STOCKTAKE_NOTE, actor=counter
            )

    def customer_create(self, plan: CustomerPlan) -> None:
        match = customer_services.customer_find_or_create(
            email=plan.email,
            phone=plan.phone_typed,
            first_name=plan.first_name,
            last_name=plan.last_name,
            company=plan.company,
            country=plan.country,
            source=plan.source,
            email_consent=plan.email_consent,
            phone_consent=plan.sms_consent,
            consent_source=plan.consent_source,
        )
        customer = match.customer
        self.customer_ids[id(plan)] = customer.pk
        self.live_customers.append(customer.pk)
        self.backdate.row(customer, plan.created_at, "created_at")
        for address in plan.addresses:
            detail_services.address_add(
                customer_id=customer.pk,
                line1=address.line1,
                city=address.city,
                region=address.region,
                postcode=address.postcode,
                country=address.country,
                actor=None,
            )
        for tag in plan.tags:
            detail_services.tag_add(customer_id=customer.pk, name=tag, actor=None)

    def order_step(self, order: OrderPlan, step: Step) -> None:
        actor = self.actor(step.actor)
        if step.kind == "placed":
            created = order_create(
                lines=[
                    OrderLineIn(quantity=line.quantity, sku_id=self.sku_ids[line.sku.code])
                    for line in order.lines
                ],
                actor=actor,
                idempotency_key=None,
                customer_id=self.customer_id(order.customer),
                currency=CURRENCY,
                discount=order.discount,
                shipping=order.shipping,
                number=order.number,
                placed_at=step.at,
                channel=order.channel,
                source=order.source,
                note=order.note,
                refresh_customer_stats=False,
            )
            self.live_orders[order.number] = _LiveOrder(id=created.pk)
            return
        live = self.live_orders[order.number]
        if step.kind in ("invoice", "paid", "payment_failed"):
            status = {
                "invoice": PaymentStatus.PENDING,
                "paid": PaymentStatus.PAID,
                "payment_failed": PaymentStatus.FAILED,
            }[step.kind]
            payment = payment_record(
                order_id=live.id,
                amount=step.amount,
                method=step.method,
                actor=actor,
                idempotency_key=None,
                status=status,
                external_id=f"{step.method}-{order.number}",
                paid_at=step.at if status == PaymentStatus.PAID else None,
            )
            if step.method not in live.payments:
                live.payments[step.method] = payment.pk
                self.backdate.row(payment, step.at, "created_at")
        elif step.kind == "refund":
            refund = refund_record(
                order_id=live.id,
                amount=step.amount,
                actor=actor,
                idempotency_key=None,
                payment_id=live.payments[order.method],
                reason=step.note,
            )
            self.backdate.row(refund, step.at, "created_at")
        elif step.kind == "label":
            shipment = shipment_create(
                order_id=live.id,
                carrier=order.carrier,
                actor=actor,
                idempotency_key=None,
                tracking_number=order.tracking,
            )
            live.shipment_id = shipment.pk
            self.backdate.row(shipment, step.at, "created_at")
        elif step.kind in SHIPMENT_OF_STEP:
            assert live.shipment_id is not None
            shipment_update_status(
                shipment_id=live.shipment_id,
                status=SHIPMENT_OF_STEP[step.kind],
                actor=None,
                idempotency_key=None,
                occurred_at=step.at,
            )
        elif step.kind == "return":
            if not live.line_ids:
                live.line_ids = list(
                    OrderLine.objects.filter(order_id=live.id)
                    .order_by("id")
                    .values_list("id", flat=True)
                )
            ret = return_create(
                order_id=live.id,
                lines=[
                    ReturnLineIn(order_line_id=live.line_ids[position], quantity=quantity)
                    for position, quantity in step.lines
                ],
                actor=actor,
                idempotency_key=None,
                reason=step.note,
                received=True,
            )
            self.backdate.row(ret, step.at, "created_at", "received_at")
        else:
            order_change_status(
                order_id=live.id,
                to_status=STATUS_OF_STEP[step.kind],
                actor=actor,
                idempotency_key=None,
                changed_at=step.at,
                note=step.note,
            )

    def note_add(self, plan: NotePlan) -> None:
        note = detail_services.note_add(
            customer_id=self.customer_id(plan.customer),
            body=plan.body,
            actor=self.actor(plan.author),
        )
        self.backdate.row(note, plan.at, "created_at")

    def consent_set(self, plan: ConsentPlan) -> None:
        customer_id = self.customer_id(plan.customer)
        identity = Identity.objects.get(customer_id=customer_id, kind=plan.kind)
        identity_services.consent_set(
            customer_id=customer_id,
            identity_id=identity.pk,
            state=plan.state,
            source=plan.source,
            actor=None,
            changed_at=plan.at,
        )

    # ------------------------------------------------------------ the end

    def finish(self) -> None:
        self.backdate.apply()
        live_ids = [live.id for live in self.live_orders.values()]
        Order.objects.filter(pk__in=live_ids).update(created_at=F("placed_at"))
        # Carriers' scans set their own times; a label not yet scanned changed when it was made.
        Shipment.objects.filter(order_id__in=live_ids, status=ShipmentStatus.CREATED).update(
            status_changed_at=F("created_at")
        )
        ShipmentStatusChange.objects.filter(shipment__order_id__in=live_ids, from_status="").update(
            occurred_at=Subquery(
                Shipment.objects.filter(pk=OuterRef("shipment_id")).values("created_at")[:1]
            )
        )
        born = Subquery(
            Customer.objects.filter(pk=OuterRef("customer_id")).values("created_at")[:1]
        )
        Identity.objects.filter(customer_id__in=self.live_customers).update(created_at=born)
        Identity.objects.filter(customer_id__in=self.live_customers).exclude(
            marketing_consent=ConsentState.UNKNOWN
        ).update(consent_changed_at=born)
        Address.objects.filter(customer_id__in=self.live_customers).update(created_at=born)
        CustomerTag.objects.filter(customer_id__in=self.live_customers).update(created_at=born)
        last_number = max((int(o.number) for o in self.plan.orders), default=0)
        OrderCounter.objects.bulk_create(
            [OrderCounter(name=ORDER_COUNTER, value=FIRST_ORDER_NUMBER)],
            ignore_conflicts=True,
        )
        OrderCounter.objects.filter(name=ORDER_COUNTER, value__lt=last_number).update(
            value=last_number
        )
        customer_stats_refresh_all()

    def summary(self) -> DemoCommerceSummary:
        ids = [(self.customer_id(a), self.customer_id(b)) for a, b in self.plan.duplicates]
        pairs = tuple((min(a, b), max(a, b)) for a, b in ids)
        return DemoCommerceSummary(
            loaded=True,
            customers=Customer.objects.count(),
            duplicate_pairs=pairs,
            products=Product.objects.count(),
            skus=Sku.objects.count(),
            orders=Order.objects.count(),
            live_orders=len(self.live_orders),
            order_lines=OrderLine.objects.count(),
            payments=Payment.objects.count(),
            refunds=Refund.objects.count(),
            shipments=Shipment.objects.count(),
            returns=Return.objects.count(),
            events=Event.objects.count(),
        )
