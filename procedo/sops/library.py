"""The library of ready SOPs: what a new store installs as drafts and adapts to itself.

Each entry is data (the same definition a store owner writes in the editor)
with a stable `library_key`: installing it makes an SOP owned by whoever
installs it, with a first draft holding the definition, checked by
`procedo.sops.validation` exactly as a draft written by hand. `Sop.library_key`
is UNIQUE, so installing twice finds what is there and makes nothing new.

Names, goals and reasons are translatable; step titles, instructions and
message texts are the store's own words (the first stores are Ukrainian), so
they are written in Ukrainian and edited in the draft like any other text.
Discount codes in the messages (COMEBACK15, VIP10, …) are examples: the store
puts in its own before publishing.

SOPs whose subjects do not exist yet are listed in `PENDING`; the issue that
builds leads, tickets, segments or checkouts adds them here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from procedo.accounts.permissions import user_can
from procedo.core.errors import DomainError, PermissionDenied
from procedo.events.services import event_record
from procedo.sops.models import Sop
from procedo.sops.services import revisions as revision_services
from procedo.sops.services import sops as sop_services

DAY = 24 * 60


@dataclass(frozen=True)
class LibraryEntry:
    key: str
    name: str | Promise
    subject_type: str
    goal: str | Promise
    why: str | Promise
    kpi: str
    kpi_target: Decimal | None = None
    kpi_window_days: int | None = None
    holdout_percent: int = 0
    definition: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class PendingEntry:
    """A ready SOP the seeds describe whose subject does not exist yet."""

    name: str | Promise
    needs: str | Promise


# ---------------------------------------------------------------- small builders


def _role(role: str) -> dict[str, Any]:
    return {"kind": "role", "role": role}


def _item(key: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"key": key, "text": text, **extra}


def _option(value: str, label: str, goto: str = "") -> dict[str, Any]:
    return {"value": value, "label": label, "goto": goto}


def _rule(field_name: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": field_name, "op": op, "value": value}


def _all(*rules: dict[str, Any]) -> dict[str, Any]:
    return {"match": "all", "rules": list(rules)}


HELLO = "{{ customer.first_name or 'Вітаємо' }}"
SIGNATURE = "\n\nЗ повагою,\nкоманда {{ business.name }}"
REPLY_HELPS = "Якщо маєте питання — просто дайте відповідь на цей лист, ми на зв'язку."


# ---------------------------------------------------------------- orders

ORDER_FULFILMENT: dict[str, Any] = {
    "triggers": [
        {"kind": "event", "key": "placed", "event_type": "order.created"},
        {"kind": "manual", "key": "by_hand"},
    ],
    "cancel_on": [
        {
            "event_type": "order.status_changed",
            "conditions": _all(_rule("event.to", "eq", "cancelled")),
        }
    ],
    "steps": [
        {
            "kind": "checklist",
            "checklist_kind": "decision",
            "key": "confirm_call",
            "title": "Підтвердити замовлення дзвінком",
            "instructions": (
                "Зателефонуйте протягом 15 хвилин після оформлення.\n\n"
                "Скрипт:\n"
                "1. «Добрий день, <ім'я>! Це <ваше ім'я> з магазину <назва>. Дякуємо за "
                "замовлення — хочу швидко його підтвердити, це займе хвилину».\n"
                "2. Звірте склад замовлення: товари, кількість, розмір і колір.\n"
                "3. Уточніть адресу або відділення перевізника й телефон отримувача.\n"
                "4. Уточніть спосіб оплати.\n"
                "5. «Відправимо <дата>, номер для відстеження надішлемо листом».\n\n"
                "Не відповідає — дайте 6 гудків і позначте «не вдалося додзвонитися»: "
                "SOP надішле SMS і нагадає передзвонити через 2 години."
            ),
            "assignee": _role("operator"),
            "due_in_minutes": 15,
            "priority": "high",
            "escalate_after_minutes": 30,
            "items": [
                _item(
                    "outcome",
                    "Результат дзвінка",
                    options=[
                        _option("confirmed", "Клієнт підтвердив замовлення"),
                        _option("change", "Клієнт просить змінити замовлення", "change_order"),
                        _option("unreachable", "Не вдалося додзвонитися", "unreachable_sms"),
                    ],
                ),
                _item(
                    "payment",
                    "Як клієнт платить",
                    required=False,
                    options=[
                        _option("online", "Онлайн-оплата"),
                        _option("cod", "Накладений платіж"),
                        _option("invoice", "Рахунок для юрособи"),
                    ],
                ),
            ],
        },
        {
            "kind": "branch",
            "key": "is_new",
            "title": "Замовлення ще не підтверджене?",
            "conditions": _all(_rule("status", "eq", "new")),
            "then_step": "mark_confirmed",
            "else_step": "pack",
        },
        {
            "kind": "set_status",
            "key": "mark_confirmed",
            "title": "Позначити замовлення підтвердженим",
            "status": "confirmed",
        },
        {
            "kind": "checklist",
            "checklist_kind": "verification",
            "key": "pack",
            "title": "Зібрати й перевірити посилку",
            "instructions": (
                "Зберіть замовлення за рядками в картці. Перевірте кожен пункт і позначте "
                "«пройдено» або «не пройдено». Хоч один «не пройдено» — SOP відправить "
                "посилку на виправлення, а потім на повторну перевірку."
            ),
            "assignee": _role("operator"),
            "due_in_minutes": DAY,
            "on_fail": "fix_packing",
            "items": [
                _item(
                    "items_match",
                    "Товари й кількість збігаються із замовленням",
                    help="Звірте артикул, розмір, колір і кількість з кожним рядком.",
                ),
                _item("no_defects", "Товар цілий, без дефектів, у фабричній упаковці"),
                _item("documents", "Вкладено чек або накладну і листівку-подяку"),
                _item(
                    "packed_safe",
                    "Упаковка надійна",
                    help="Крихке — у повітряно-бульбашковій плівці, порожнини заповнені.",
                ),
                _item("label", "Адреса й телефон на етикетці — ті, що підтвердив клієнт"),
            ],
        },
        {
            "kind": "branch",
            "key": "is_confirmed",
            "title": "Замовлення ще не позначене зібраним?",
            "conditions": _all(_rule("status", "eq", "confirmed")),
            "then_step": "mark_packed",
            "else_step": "ship",
        },
        {
            "kind": "set_status",
            "key": "mark_packed",
            "title": "Позначити замовлення зібраним",
            "status": "packed",
        },
        {
            "kind": "checklist",
            "checklist_kind": "simple",
            "key": "ship",
            "title": "Створити ТТН і передати посилку перевізнику",
            "instructions": (
                "Створіть відправлення в картці замовлення (перевізник і номер ТТН): "
                "з нього клієнт отримає номер для відстеження. Передайте посилку кур'єру "
                "або у відділення до 17:00, щоб вона поїхала сьогодні."
            ),
            "assignee": _role("operator"),
            "due_in_minutes": DAY,
            "items": [
                _item("waybill", "ТТН створено, номер внесено в картку замовлення"),
                _item("handed_over", "Посилку передано перевізнику"),
            ],
        },
        {
            "kind": "email",
            "key": "tracking_email",
            "title": "Надіслати клієнту номер для відстеження",
            "subject": "Замовлення {{ order.number }} вже в дорозі",
            "body": (
                f"{HELLO}, ваше замовлення {{{{ order.number }}}} передано перевізнику.\n\n"
                "{% if order.tracking_number %}Номер для відстеження: "
                "{{ order.tracking_number }}\n"
                "{% if order.tracking_url %}Стежити за посилкою: {{ order.tracking_url }}\n"
                "{% endif %}\n{% endif %}"
                "Доставка Україною зазвичай триває 1–3 дні; коли посилка прибуде, "
                "перевізник надішле SMS.\n\n"
                f"{REPLY_HELPS}{SIGNATURE}"
            ),
            "next": "end",
        },
        {
            "kind": "task",
            "key": "change_order",
            "title": "Внести зміни в замовлення",
            "instructions": (
                "Змініть замовлення так, як попросив клієнт (товари, кількість, адреса, "
                "доставка), і перерахуйте суму. Назвіть клієнту нову суму й дату відправки. "
                "Товару немає на складі — запропонуйте заміну схожої ціни."
            ),
            "assignee": _role("operator"),
            "due_in_minutes": 60,
            "priority": "high",
            "next": "is_new",
        },
        {
            "kind": "sms",
            "key": "unreachable_sms",
            "title": "SMS: не вдалося додзвонитися",
            "body": (
                f"{HELLO}! Це {{{{ business.name }}}}. Не змогли додзвонитися, щоб "
                "підтвердити замовлення {{ order.number }}. Передзвоніть нам або дайте "
                "відповідь на SMS — і ми одразу його відправимо."
            ),
        },
        {
            "kind": "wait",
            "key": "wait_callback",
            "title": "Зачекати 2 години",
            "minutes": 120,
        },
        {
            "kind": "checklist",
            "checklist_kind": "decision",
            "key": "confirm_retry",
            "title": "Повторний дзвінок для підтвердження",
            "instructions": (
                "Клієнт не відповів на перший дзвінок і отримав SMS. Спробуйте ще раз; "
                "якщо він передзвонив сам — позначте результат тієї розмови."
            ),
            "assignee": _role("operator"),
            "due_in_minutes": 60,
            "priority": "high",
            "items": [
                _item(
                    "outcome",
                    "Результат дзвінка",
                    options=[
                        _option("confirmed", "Клієнт підтвердив замовлення", "is_new"),
                        _option("change", "Клієнт просить змінити замовлення", "change_order"),
                        _option("unreachable", "Знову не відповідає", "unconfirmed"),
                    ],
                )
            ],
        },
        {
            "kind": "checklist",
            "checklist_kind": "decision",
            "key": "unconfirmed",
            "title": "Вирішити долю непідтвердженого замовлення",
            "instructions": (
                "Клієнт не відповідає ні на дзвінки, ні на SMS. Подивіться його картку: "
                "замовлення оплачене онлайн або клієнт купує не вперше — відправляйте без "
                "підтвердження. Інакше скасуйте замовлення в його картці (скасування зупинить "
                "цю SOP і поверне товар на склад)."
            ),
            "assignee": _role("manager"),
            "due_in_minutes": 4 * 60,
            "items": [
                _item(
                    "decision",
                    "Що робимо із замовленням",
                    options=[
                        _option("ship", "Відправляємо без підтвердження", "is_new"),
                        _option("cancel", "Скасовуємо замовлення", "end"),
                    ],
                )
            ],
        },
        {
            "kind": "task",
            "key": "fix_packing",
            "title": "Виправити помилку в посилці",
            "instructions": (
                "Перевірку посилки не пройдено. Виправте те, що позначено «не пройдено»: "
                "замініть товар, доповніть кількість, перепакуйте. Після цього SOP попросить "
                "перевірити посилку ще раз."
            ),
            "assignee": _role("operator"),
            "due_in_minutes": 120,
            "priority": "high",
            "next": "pack",
        },
    ],
}

AFTER_DELIVERY: dict[str, Any] = {
    "triggers": [
        {
            "kind": "date",
            "key": "delivered",
            "field": "delivered_at",
            "offset_days": 1,
            "catch_up_days": 3,
            "conditions": _all(_rule("status_category", "eq", "delivered")),
        }
    ],
    "cancel_on": [
        {"event_type": "return.created"},
        {
            "event_type": "order.status_changed",
            "conditions": _all(_rule("event.to", "eq", "returned")),
        },
    ],
    "steps": [
        {
            "kind": "email",
            "key": "thanks",
            "title": "Лист-подяка після доставки",
            "subject": f"{HELLO}, дякуємо за покупку!",
            "body": (
                f"{HELLO}!\n\nВаше замовлення {{{{ order.number }}}} доставлено. Дякуємо, що "
                "обрали {{ business.name }} — для маленького магазину це справді важливо.\n\n"
                "Якщо з товаром щось не так, дайте відповідь на цей лист: розберемося "
                "протягом робочого дня, без зайвих питань." + SIGNATURE
            ),
        },
        {"kind": "wait", "key": "wait_30", "title": "Зачекати до 30-го дня", "minutes": 29 * DAY},
        {
            "kind": "email",
            "key": "checkin_30",
            "title": "30 днів: як покупка, і прохання про відгук",
            "subject": "Місяць з вашою покупкою: як враження?",
            "body": (
                f"{HELLO}!\n\nМинув місяць, відколи ви отримали замовлення "
                "{{ order.number }}. Як вам покупка?\n\n"
                "Будемо дуже вдячні за чесний відгук — це дві хвилини, і він допомагає іншим "
                "покупцям обрати, а нам — стати кращими. Просто дайте відповідь на цей лист: "
                "що сподобалося, а що варто покращити." + SIGNATURE
            ),
        },
        {"kind": "wait", "key": "wait_60", "title": "Зачекати до 60-го дня", "minutes": 30 * DAY},
        {
            "kind": "email",
            "key": "checkin_60",
            "title": "60 днів: поради й турбота",
            "subject": "Кілька порад, щоб покупка служила довше",
            "body": (
                f"{HELLO}!\n\nДва місяці тому ви отримали замовлення {{{{ order.number }}}}. "
                "Кілька порад, щоб річ служила довше: зберігайте її за інструкцією на "
                "упаковці, а якщо з'явилися питання щодо догляду чи використання — напишіть "
                "нам, підкажемо.\n\n" + REPLY_HELPS + SIGNATURE
            ),
        },
        {"kind": "wait", "key": "wait_90", "title": "Зачекати до 90-го дня", "minutes": 30 * DAY},
        {
            "kind": "email",
            "key": "checkin_90",
            "title": "90 днів: подяка і подарунок",
            "subject": "Три місяці разом — маленький подарунок",
            "body": (
                f"{HELLO}!\n\nДякуємо, що ви з {{{{ business.name }}}} вже три місяці. "
                "На знак вдячності — промокод THANKS10: −10% на наступне замовлення, діє 14 "
                "днів.\n\nБудемо раді бачити вас знову!" + SIGNATURE
            ),
        },
        {
            "kind": "branch",
            "key": "bought_again",
            "title": "Купив(ла) ще раз за ці три місяці?",
            "conditions": _all(_rule("customer.last_order_at", "within_days", 85)),
            "then_step": "end",
            "else_step": "call_90",
        },
        {
            "kind": "checklist",
            "checklist_kind": "information",
            "key": "call_90",
            "title": "Зателефонувати: як покупка через 3 місяці",
            "instructions": (
                "Клієнт не купував три місяці після цього замовлення. Зателефонуйте без "
                "продажу: подякуйте, запитайте, як служить покупка, і запишіть відповіді — "
                "вони залишаться в картці замовлення."
            ),
            "assignee": _role("operator"),
            "due_in_minutes": 3 * DAY,
            "priority": "low",
            "items": [
                _item(
                    "satisfaction",
                    "Наскільки клієнт задоволений",
                    field_type="choice",
                    choices=["Дуже задоволений", "Задоволений", "Є зауваження", "Незадоволений"],
                ),
                _item("remarks", "Що клієнт сказав (своїми словами)", required=False),
                _item(
                    "offers_ok",
                    "Згоден(на) отримувати наші пропозиції",
                    field_type="yes_no",
                    required=False,
                ),
            ],
        },
    ],
}

NEXT_PRODUCT: dict[str, Any] = {
    "triggers": [
        {
            "kind": "date",
            "key": "week_after_delivery",
            "field": "delivered_at",
            "offset_days": 7,
            "catch_up_days": 3,
            "conditions": _all(_rule("status_category", "eq", "delivered")),
        }
    ],
    "cancel_on": [{"event_type": "return.created"}],
    "steps": [
        {
            "kind": "branch",
            "key": "loyal",
            "title": "Постійний клієнт (3+ замовлення)?",
            "conditions": _all(_rule("customer.orders_count", "gte", 3)),
            "then_step": "offer_loyal",
            "else_step": "offer_first",
        },
        {
            "kind": "email",
            "key": "offer_first",
            "title": "Пропозиція наступного товару",
            "subject": "Що ще знадобиться до вашої покупки",
            "body": (
                f"{HELLO}!\n\nПокупці, які обрали те саме, що й ви, зазвичай докуповують "
                "витратні матеріали й аксесуари — щоб покупка працювала на повну.\n\n"
                "Даруємо −10% на наступне замовлення за промокодом NEXT10, діє 14 днів." + SIGNATURE
            ),
            "next": "wait_14",
        },
        {
            "kind": "email",
            "key": "offer_loyal",
            "title": "Пропозиція для постійного клієнта",
            "subject": "Для постійних: новинки і −15%",
            "body": (
                f"{HELLO}!\n\nВи з нами не вперше — дякуємо! Ми зібрали новинки, які "
                "пасують до ваших попередніх покупок, і даруємо −15% за промокодом LOYAL15 "
                "(діє 14 днів)." + SIGNATURE
            ),
        },
        {"kind": "wait", "key": "wait_14", "title": "Зачекати 14 днів", "minutes": 14 * DAY},
        {
            "kind": "branch",
            "key": "bought",
            "title": "Скористався(лася) пропозицією?",
            "conditions": _all(_rule("customer.last_order_at", "within_days", 14)),
            "then_step": "end",
            "else_step": "reminder",
        },
        {
            "kind": "sms",
            "key": "reminder",
            "title": "SMS-нагадування про знижку",
            "body": (
                f"{HELLO}! Нагадуємо: ваша знижка в {{{{ business.name }}}} на наступне "
                "замовлення діє ще кілька днів."
            ),
        },
    ],
}


# ---------------------------------------------------------------- customers

WIN_BACK: dict[str, Any] = {
    "triggers": [
        {
            "kind": "date",
            "key": "year_without_order",
            "field": "last_order_at",
            "offset_days": 365,
            "conditions": _all(_rule("orders_count", "gte", 1)),
        },
        {"kind": "manual", "key": "by_hand"},
    ],
    "steps": [
        {
            "kind": "email",
            "key": "offer",
            "title": "Лист: ми скучили, ось знижка",
            "subject": f"{HELLO}, ми скучили — ось −15% на повернення",
            "body": (
                f"{HELLO}!\n\nВи не заходили до {{{{ business.name }}}} вже рік, і нам вас "
                "бракує. За цей час у нас з'явилися новинки, а доставка стала швидшою.\n\n"
                "Повертайтеся: промокод COMEBACK15 дає −15% на будь-яке замовлення, діє 14 "
                "днів.\n\nЯкщо тоді щось пішло не так — дайте відповідь на цей лист, ми "
                "хочемо це виправити." + SIGNATURE
            ),
        },
        {"kind": "add_tag", "key": "tag", "title": "Позначити «повернення»", "tag": "win-back"},
        {"kind": "wait", "key": "wait_14", "title": "Зачекати 14 днів", "minutes": 14 * DAY},
        {
            "kind": "branch",
            "key": "came_back",
            "title": "Повернувся(лася) із замовленням?",
            "conditions": _all(_rule("last_order_at", "within_days", 14)),
            "then_step": "untag",
            "else_step": "call",
        },
        {
            "kind": "checklist",
            "checklist_kind": "information",
            "key": "call",
            "title": "Зателефонувати й дізнатися, чому клієнт пішов",
            "instructions": (
                "Клієнт не відгукнувся на лист. Зателефонуйте: «Ви колись купували в нас, "
                "і нам важливо знати — чому перестали? Ми хочемо стати кращими». Не "
                "сперечайтеся, слухайте. Наприкінці нагадайте про промокод COMEBACK15."
            ),
            "assignee": _role("operator"),
            "due_in_minutes": 2 * DAY,
            "priority": "low",
            "items": [
                _item(
                    "reason",
                    "Чому клієнт перестав купувати",
                    field_type="choice",
                    choices=[
                        "Дорого",
                        "Знайшов(ла) інший магазин",
                        "Більше не потрібно",
                        "Погана доставка чи сервіс",
                        "Забув(ла) про нас",
                        "Інше",
                    ],
                ),
                _item("remarks", "Що клієнт сказав", required=False),
                _item(
                    "will_order",
                    "Обіцяє скористатися пропозицією",
                    field_type="yes_no",
                    required=False,
                ),
            ],
        },
        {"kind": "remove_tag", "key": "untag", "title": "Зняти позначку", "tag": "win-back"},
    ],
}

VIP: dict[str, Any] = {
    "triggers": [
        {
            "kind": "schedule",
            "key": "monthly",
            "every": "month",
            "day_of_month": 1,
            "time": "10:00",
            "conditions": _all(
                _rule("lifetime_value", "gte", 25000),
                _rule("tags", "has_not", "VIP"),
            ),
        },
        {"kind": "manual", "key": "by_hand"},
    ],
    "steps": [
        {"kind": "add_tag", "key": "tag_vip", "title": "Позначити VIP", "tag": "VIP"},
        {
            "kind": "email",
            "key": "welcome_vip",
            "title": "Лист: ви тепер VIP",
            "subject": f"{HELLO}, ви тепер VIP-клієнт {{{{ business.name }}}}",
            "body": (
                f"{HELLO}!\n\nВи — серед наших найвідданіших покупців, і ми хочемо сказати "
                "«дякую» не лише словами. Відтепер для вас:\n"
                "• постійна знижка 10% за промокодом VIP10;\n"
                "• безкоштовна доставка кожного замовлення;\n"
                "• особистий менеджер і відповідь поза чергою.\n\n"
                "Ваш менеджер зателефонує найближчими днями, щоб познайомитися." + SIGNATURE
            ),
        },
        {
            "kind": "checklist",
            "checklist_kind": "detailed",
            "key": "personal_touch",
            "title": "Особисто привітати VIP-клієнта",
            "instructions": (
                "Це не продаж, а подяка. Перед дзвінком перегляньте картку клієнта: що й як "
                "часто купує, чи були скарги."
            ),
            "assignee": _role("manager"),
            "due_in_minutes": 3 * DAY,
            "items": [
                _item(
                    "call",
                    "Зателефонувати й подякувати",
                    help="Представтеся особистим менеджером, запитайте, що ми можемо покращити.",
                ),
                _item(
                    "gift",
                    "Підготувати подарунок до наступного замовлення",
                    help="Листівка, підписана від руки, і пробник або аксесуар до 300 грн.",
                ),
                _item(
                    "note",
                    "Записати вподобання в картку клієнта",
                    help="Розміри, улюблені категорії, зручний час для дзвінка — у нотатку.",
                    required=False,
                ),
            ],
        },
    ],
}

COMPLAINT: dict[str, Any] = {
    "triggers": [{"kind": "manual", "key": "by_hand"}],
    "steps": [
        {"kind": "add_tag", "key": "tag", "title": "Позначити «скарга»", "tag": "complaint"},
        {
            "kind": "email",
            "key": "acknowledge",
            "title": "Лист: ми отримали звернення",
            "subject": "Ми отримали ваше звернення",
            "body": (
                f"{HELLO}!\n\nДякуємо, що розповіли нам про проблему, — і вибачте, що так "
                "сталося. Ми вже розбираємося і відповімо протягом 2 годин у робочий час.\n\n"
                "Якщо є фото чи відео — надішліть у відповідь на цей лист, це пришвидшить "
                "рішення." + SIGNATURE
            ),
        },
        {
            "kind": "checklist",
            "checklist_kind": "information",
            "key": "gather",
            "title": "Зібрати деталі скарги",
            "instructions": (
                "Вислухайте клієнта до кінця, не перебивайте і не виправдовуйтеся. "
                "Повторіть своїми словами, як ви зрозуміли проблему. Відповіді залишаться в "
                "картці клієнта — керівник вирішить, як виправити ситуацію."
            ),
            "assignee": _role("support"),
            "due_in_minutes": 120,
            "priority": "high",
            "escalate_after_minutes": 60,
            "items": [
                _item("order_number", "Номер замовлення", required=False),
                _item(
                    "reason",
                    "Причина скарги",
                    field_type="choice",
                    choices=[
                        "Пошкоджений товар",
                        "Не той товар або неповна комплектація",
                        "Затримка доставки",
                        "Якість товару",
                        "Обслуговування",
                        "Інше",
                    ],
                ),
                _item("details", "Що сталося (словами клієнта)"),
                _item("evidence", "Є фото чи відео", field_type="yes_no", required=False),
                _item(
                    "wish",
                    "Чого хоче клієнт",
                    field_type="choice",
                    choices=[
                        "Заміна",
                        "Повернення коштів",
                        "Знижка чи компенсація",
                        "Пояснення й вибачення",
                    ],
                ),
            ],
        },
        {
            "kind": "checklist",
            "checklist_kind": "decision",
            "key": "remedy",
            "title": "Вирішити, як виправити ситуацію",
            "instructions": (
                "Прочитайте деталі в картці клієнта. Правило: помилка наша — виправляємо за "
                "наш рахунок і без суперечок; сумнівно — рішення на користь клієнта, якщо "
                "воно дешевше за втраченого покупця."
            ),
            "assignee": _role("manager"),
            "due_in_minutes": 4 * 60,
            "priority": "high",
            "items": [
                _item(
                    "remedy",
                    "Рішення",
                    options=[
                        _option("replace", "Замінити товар", "do_replace"),
                        _option("refund", "Повернути кошти", "do_refund"),
                        _option("compensate", "Знижка або подарунок", "do_compensate"),
                        _option("explain", "Пояснити й вибачитися", "do_explain"),
                    ],
                )
            ],
        },
        {
            "kind": "task",
            "key": "do_replace",
            "title": "Відправити заміну",
            "instructions": (
                "Створіть замовлення на заміну за нульовою ціною, відправте його першим "
                "у черзі й повідомте клієнту номер ТТН. Зворотну доставку товару з дефектом "
                "оплачуємо ми."
            ),
            "assignee": _role("support"),
            "due_in_minutes": DAY,
            "priority": "high",
            "next": "followup_wait",
        },
        {
            "kind": "task",
            "key": "do_refund",
            "title": "Повернути кошти",
            "instructions": (
                "Оформіть повернення коштів у картці замовлення тим самим способом, яким "
                "клієнт платив. Напишіть клієнту, коли гроші надійдуть (зазвичай 1–3 дні)."
            ),
            "assignee": _role("manager"),
            "due_in_minutes": DAY,
            "priority": "high",
            "next": "followup_wait",
        },
        {
            "kind": "task",
            "key": "do_compensate",
            "title": "Надати знижку або подарунок",
            "instructions": (
                "Надішліть клієнту промокод SORRY15 (−15% на наступне замовлення, діє 30 "
                "днів) або додайте подарунок до наступного замовлення — і запишіть це в "
                "нотатку клієнта."
            ),
            "assignee": _role("support"),
            "due_in_minutes": 4 * 60,
            "next": "followup_wait",
        },
        {
            "kind": "task",
            "key": "do_explain",
            "title": "Пояснити клієнту й вибачитися",
            "instructions": (
                "Скрипт: «<Ім'я>, дякую, що дочекалися. Ми розібралися: <що сталося і "
                "чому>. Мені шкода, що так вийшло. Щоб це не повторилося, ми <що змінили>. "
                "Чи можу я ще чимось допомогти?»"
            ),
            "assignee": _role("support"),
            "due_in_minutes": 4 * 60,
            "next": "followup_wait",
        },
        {
            "kind": "wait",
            "key": "followup_wait",
            "title": "Зачекати 3 дні",
            "minutes": 3 * DAY,
        },
        {
            "kind": "checklist",
            "checklist_kind": "decision",
            "key": "followup",
            "title": "Перепитати, чи все гаразд",
            "instructions": (
                "Зателефонуйте або напишіть: «Хочу переконатися, що ми все виправили. "
                "Чи все гаразд тепер?»"
            ),
            "assignee": _role("support"),
            "due_in_minutes": DAY,
            "items": [
                _item(
                    "satisfied",
                    "Клієнт задоволений рішенням?",
                    options=[
                        _option("yes", "Так, питання закрите", "close"),
                        _option("no", "Ні, досі незадоволений", "escalate"),
                    ],
                )
            ],
        },
        {
            "kind": "remove_tag",
            "key": "close",
            "title": "Зняти позначку «скарга»",
            "tag": "complaint",
            "next": "end",
        },
        {
            "kind": "task",
            "key": "escalate",
            "title": "Скарга не вирішена: зв'язатися особисто",
            "instructions": (
                "Клієнт досі незадоволений. Зателефонуйте особисто як власник процесу, "
                "запропонуйте рішення, яке закриє питання, і запишіть його в нотатку."
            ),
            "assignee": {"kind": "sop_owner"},
            "due_in_minutes": DAY,
            "priority": "urgent",
            "next": "followup_wait",
        },
    ],
}


def _script(
    key: str, title: str, script: str, items: Sequence[tuple[str, str, str]]
) -> dict[str, Any]:
    return {
        "kind": "checklist",
        "checklist_kind": "detailed",
        "key": key,
        "title": title,
        "instructions": script,
        "assignee": _role("operator"),
        "due_in_minutes": 30,
        "items": [_item(k, text, help=help_text) for k, text, help_text in items],
        "next": "result",
    }


OBJECTIONS: dict[str, Any] = {
    "triggers": [{"kind": "manual", "key": "by_hand"}],
    "steps": [
        {
            "kind": "checklist",
            "checklist_kind": "decision",
            "key": "call",
            "title": "Дзвінок: з'ясувати головне заперечення",
            "instructions": (
                "Слухайте більше, ніж говорите. Запитайте: «Що вас зупиняє від замовлення?» "
                "Визначте головне заперечення й оберіть його нижче — SOP відкриє потрібний "
                "скрипт."
            ),
            "assignee": _role("operator"),
            "due_in_minutes": 60,
            "items": [
                _item(
                    "objection",
                    "Що заважає клієнту купити",
                    options=[
                        _option("price", "«Дорого»", "script_price"),
                        _option("think", "«Я подумаю»", "script_think"),
                        _option("trust", "«Не впевнений(а) в якості»", "script_trust"),
                        _option("delivery", "«Довго чекати доставку»", "script_delivery"),
                        _option("none", "Заперечень немає", "result"),
                    ],
                )
            ],
        },
        _script(
            "script_price",
            "Скрипт: «Дорого»",
            "«Розумію, ціна важлива. Скажіть, з чим ви порівнюєте?» — вислухайте. Далі: "
            "«У нашу ціну входять <гарантія, доставка, сервіс>. Якщо розкласти на термін "
            "служби, це <N> грн на місяць». Якщо бюджет обмежений — запропонуйте "
            "дешевший варіант або оплату частинами.",
            [
                (
                    "ask",
                    "З'ясував(ла), з чим клієнт порівнює",
                    "Ціна конкурента, бюджет, очікування.",
                ),
                (
                    "value",
                    "Назвав(ла) цінність, а не знижку",
                    "Гарантія, якість, доставка, сервіс.",
                ),
                ("option", "Запропонував(ла) альтернативу", "Дешевша модель або оплата частинами."),
            ],
        ),
        _script(
            "script_think",
            "Скрипт: «Я подумаю»",
            "«Звісно. Щоб вам було простіше вирішити — що саме ще хочете обдумати: ціну, "
            "модель чи терміни?» Заперечення «подумаю» зазвичай приховує інше — знайдіть "
            "його і відпрацюйте. Якщо клієнту справді потрібен час — домовтеся про "
            "конкретний день і час дзвінка.",
            [
                ("hidden", "З'ясував(ла) справжню причину", "Ціна, сумнів у якості, чиясь порада."),
                ("agree", "Домовився(лася) про дату наступного дзвінка", "Конкретний день і час."),
            ],
        ),
        _script(
            "script_trust",
            "Скрипт: «Не впевнений(а) в якості»",
            "«Чудово, що ви уважно обираєте. Ось що можу сказати: <гарантія N місяців>, "
            "<відгуки покупців>, 14 днів на повернення без пояснень». Запропонуйте надіслати "
            "фото чи відео товару і посилання на відгуки.",
            [
                ("guarantee", "Розповів(ла) про гарантію і повернення", "14 днів без пояснень."),
                ("proof", "Надіслав(ла) відгуки, фото чи відео", "У месенджер або на пошту."),
            ],
        ),
        _script(
            "script_delivery",
            "Скрипт: «Довго чекати доставку»",
            "«Розумію, хочеться отримати швидше. Якщо оформимо до 15:00, відправимо сьогодні, "
            "і завтра-післязавтра посилка буде у вас. Можу запропонувати адресну доставку "
            "кур'єром».",
            [
                ("terms", "Назвав(ла) точні терміни доставки", "Дата відправки й прибуття."),
                ("courier", "Запропонував(ла) швидший спосіб", "Кур'єр або самовивіз."),
            ],
        ),
        {
            "kind": "checklist",
            "checklist_kind": "decision",
            "key": "result",
            "title": "Результат розмови",
            "assignee": _role("operator"),
            "due_in_minutes": 60,
            "items": [
                _item(
                    "outcome",
                    "Чим закінчилася розмова",
                    options=[
                        _option("ordered", "Клієнт оформив замовлення", "end"),
                        _option("later", "Просить передзвонити пізніше", "callback_wait"),
                        _option("declined", "Клієнт відмовився", "lost"),
                    ],
                )
            ],
        },
        {
            "kind": "wait",
            "key": "callback_wait",
            "title": "Зачекати 2 дні",
            "minutes": 2 * DAY,
        },
        {
            "kind": "task",
            "key": "callback",
            "title": "Передзвонити, як домовлялися",
            "instructions": (
                "«Добрий день, <ім'я>! Ви просили передзвонити — чи вдалося обдумати?» "
                "Якщо з'явилося нове заперечення — відкрийте відповідний скрипт."
            ),
            "assignee": _role("operator"),
            "due_in_minutes": DAY,
            "next": "result",
        },
        {
            "kind": "checklist",
            "checklist_kind": "information",
            "key": "lost",
            "title": "Записати причину відмови",
            "assignee": _role("operator"),
            "due_in_minutes": 60,
            "priority": "low",
            "items": [
                _item(
                    "reason",
                    "Причина відмови",
                    field_type="choice",
                    choices=["Ціна", "Купив(ла) в іншому місці", "Не на часі", "Якість", "Інше"],
                ),
                _item("remarks", "Що клієнт сказав", required=False),
            ],
        },
    ],
}

REFERRAL: dict[str, Any] = {
    "triggers": [
        {
            "kind": "schedule",
            "key": "monthly",
            "every": "month",
            "day_of_month": 15,
            "time": "11:00",
            "conditions": _all(
                _rule("orders_count", "gte", 2),
                _rule("last_order_at", "within_days", 60),
                _rule("tags", "has_not", "referral-asked"),
                _rule("tags", "has_not", "complaint"),
            ),
        }
    ],
    "steps": [
        {
            "kind": "add_tag",
            "key": "tag",
            "title": "Позначити «запрошення надіслано»",
            "tag": "referral-asked",
        },
        {
            "kind": "email",
            "key": "ask",
            "title": "Лист: порекомендуйте нас другу",
            "subject": "Подаруйте другу −10% — і отримайте подарунок самі",
            "body": (
                f"{HELLO}!\n\nВи купуєте в {{{{ business.name }}}} не вперше — отже, вам у нас "
                "подобається. Поділіться цим з друзями!\n\n"
                "Дайте другу промокод FRIEND10: −10% на перше замовлення. Коли він замовить, "
                "напишіть нам його ім'я у відповідь на цей лист — і ви отримаєте −10% на "
                "наступну покупку.\n\nДякуємо, що рекомендуєте нас!" + SIGNATURE
            ),
        },
        {
            "kind": "wait",
            "key": "half_a_year",
            "title": "Не питати знову пів року",
            "minutes": 182 * DAY,
        },
        {
            "kind": "remove_tag",
            "key": "untag",
            "title": "Зняти позначку",
            "tag": "referral-asked",
        },
    ],
}


# ---------------------------------------------------------------- the library

LIBRARY: dict[str, LibraryEntry] = {
    entry.key: entry
    for entry in (
        LibraryEntry(
            key="order_fulfilment",
            name=_("New order: confirm within 15 minutes, pack, ship, send tracking"),
            subject_type="order",
            goal=_(
                "Every new order is confirmed by phone within 15 minutes, packed without "
                "mistakes and shipped within a working day; the customer gets the tracking "
                "number by email."
            ),
            why=_(
                "Unconfirmed orders are cancelled twice as often, a call catches a wrong "
                "address before the parcel travels, and a checked parcel does not come back."
            ),
            kpi="order_confirmation_time",
            kpi_target=Decimal("15"),
            definition=ORDER_FULFILMENT,
        ),
        LibraryEntry(
            key="after_delivery",
            name=_("After delivery: thank-you, check-ins at 30, 60 and 90 days, review request"),
            subject_type="order",
            goal=_(
                "Every buyer hears from us the day after delivery and at 30, 60 and 90 days; "
                "more of them leave a review and buy again within 90 days."
            ),
            why=_(
                "A buyer who is thanked and asked how the purchase serves them comes back "
                "more often, and a problem heard early is a review saved."
            ),
            kpi="repeat_purchase_rate",
            kpi_target=Decimal("25"),
            kpi_window_days=90,
            holdout_percent=10,
            definition=AFTER_DELIVERY,
        ),
        LibraryEntry(
            key="next_product",
            name=_("Next-product offer a week after delivery"),
            subject_type="order",
            goal=_(
                "A week after delivery the buyer gets an offer for what usually comes next, "
                "with a discount; more second orders within 30 days."
            ),
            why=_(
                "The weeks after a good delivery are when a buyer is most likely to buy "
                "again. Until analytics computes the product ladder, a simple rule chooses "
                "the offer: regular customers get a bigger one."
            ),
            kpi="repeat_purchase_rate",
            kpi_target=Decimal("15"),
            kpi_window_days=30,
            holdout_percent=10,
            definition=NEXT_PRODUCT,
        ),
        LibraryEntry(
            key="win_back",
            name=_("Win-back after 12 months without an order"),
            subject_type="customer",
            goal=_(
                "A customer who has not ordered for a year gets an offer to come back, and "
                "a call to learn why if the offer does not bring them."
            ),
            why=_(
                "Bringing a former customer back costs far less than finding a new one, and "
                "their reasons for leaving tell us what to fix."
            ),
            kpi="reactivation_rate",
            kpi_target=Decimal("8"),
            holdout_percent=10,
            definition=WIN_BACK,
        ),
        LibraryEntry(
            key="vip_recognition",
            name=_("VIP recognition for the top customers by spend"),
            subject_type="customer",
            goal=_(
                "Customers whose lifetime spend passes the VIP threshold are tagged VIP, "
                "get their benefits by email and a personal call from a manager."
            ),
            why=_(
                "A few customers bring a large share of revenue; recognising them keeps "
                "them. Set the threshold (25,000 in the store's currency) to your top few "
                "percent before publishing."
            ),
            kpi="repeat_purchase_rate",
            kpi_target=Decimal("60"),
            kpi_window_days=90,
            definition=VIP,
        ),
        LibraryEntry(
            key="complaint",
            name=_("Complaint handling: answer within 2 hours, fix, follow up"),
            subject_type="customer",
            goal=_(
                "Every complaint is acknowledged at once, its facts are gathered within 2 "
                "hours, a remedy is decided the same day, and three days later we ask "
                "whether it is solved."
            ),
            why=_(
                "A complaint solved quickly makes a more loyal customer than one who never "
                "had a problem; an unanswered one becomes a public review."
            ),
            kpi="repeat_purchase_rate",
            kpi_target=Decimal("50"),
            kpi_window_days=90,
            definition=COMPLAINT,
        ),
        LibraryEntry(
            key="objection_handling",
            name=_("Sales call: handling objections"),
            subject_type="customer",
            goal=_(
                "On a sales call the operator names the customer's objection and follows "
                "its script; every call ends with an order, a call-back date or a recorded "
                "reason for no."
            ),
            why=_(
                "Most lost sales end at an objection that has a good answer; a script makes "
                "every operator give the best one, and the recorded reasons show what to fix."
            ),
            kpi="repeat_purchase_rate",
            kpi_target=Decimal("30"),
            kpi_window_days=14,
            definition=OBJECTIONS,
        ),
        LibraryEntry(
            key="referral_ask",
            name=_("Referral ask twice a year to satisfied customers"),
            subject_type="customer",
            goal=_(
                "Customers who bought at least twice and recently, with no open complaint, "
                "are asked to recommend us, at most twice a year."
            ),
            why=_(
                "A satisfied customer's recommendation is the cheapest and most trusted "
                "way to a new one; asking more often than twice a year wears it out."
            ),
            kpi="repeat_purchase_rate",
            kpi_target=Decimal("20"),
            kpi_window_days=60,
            definition=REFERRAL,
        ),
    )
}

# The seeds' other ready SOPs: their subjects come with later issues, which add them here.
PENDING: tuple[PendingEntry, ...] = (
    PendingEntry(_("Lead call-back within one business day"), _("leads")),
    PendingEntry(_("Nurture of leads who neither bought nor booked"), _("leads")),
    PendingEntry(_("Abandoned-checkout reminder"), _("checkouts and their events")),
)


# ---------------------------------------------------------------- installing


class InstalledSops(list[Sop]):
    """The SOPs installed now; `already` holds those that were installed before."""

    def __init__(self, installed: Sequence[Sop] = (), already: Sequence[Sop] = ()) -> None:
        super().__init__(installed)
        self.already: list[Sop] = list(already)


def library_installed() -> dict[str, Sop]:
    """The SOPs installed from the library, by library key."""
    return {
        str(sop.library_key): sop
        for sop in Sop.objects.filter(library_key__in=list(LIBRARY)).select_related("owner")
    }


def _keys_clean(keys: Sequence[str] | None) -> list[str]:
    if keys is None:
        return list(LIBRARY)
    unknown = [key for key in keys if key not in LIBRARY]
    if unknown:
        raise DomainError(
            field="keys",
            message=gettext("No SOP “%(key)s” in the library (it has: %(known)s).")
            % {"key": unknown[0], "known": ", ".join(LIBRARY)},
        )
    if not keys:
        raise DomainError(field="keys", message=gettext("Name at least one library SOP."))
    return list(dict.fromkeys(keys))


def _install_one(entry: LibraryEntry, *, actor: Any) -> Sop:
    sop = sop_services.sop_create(
        name=str(entry.name),
        subject_type=entry.subject_type,
        owner_id=actor.pk,
        kpi=entry.kpi,
        kpi_target=entry.kpi_target,
        kpi_window_days=entry.kpi_window_days,
        holdout_percent=entry.holdout_percent,
        goal=str(entry.goal),
        why=str(entry.why),
        actor=actor,
    )
    # The UNIQUE key is set before anything else is written: of two installs racing,
    # the second fails here and its savepoint takes its SOP away.
    Sop.objects.filter(pk=sop.pk).update(library_key=entry.key)
    sop.library_key = entry.key
    draft = sop.revisions.get()
    revision_services.revision_update(
        revision_id=draft.pk,
        definition=dict(entry.definition),
        actor=actor,
        note=gettext("Installed from the library: adapt it to the store, then send it for review."),
    )
    event_record(
        event_type="sop.library_installed",
        subject=sop,
        actor=actor,
        payload={"library_key": entry.key, "name": sop.name, "revision_id": draft.pk},
    )
    return sop


@transaction.atomic
def library_install(*, keys: Sequence[str] | None, actor: Any) -> InstalledSops:
    """Install library SOPs (None: all) as new SOPs with a draft, owned by `actor`.

    Installing twice changes nothing: an entry whose `library_key` is taken is
    reported in `.already`. An unknown key is refused before anything is written.
    """
    wanted = _keys_clean(keys)
    if not user_can(actor, "sops.author"):
        raise PermissionDenied(
            field="permission",
            message=gettext("Your role does not allow this (%(permission)s).")
            % {"permission": "sops.author"},
        )
    there = library_installed()
    installed: list[Sop] = []
    already: list[Sop] = []
    for key in wanted:
        if key in there:
            already.append(there[key])
            continue
        try:
            with transaction.atomic():
                installed.append(_install_one(LIBRARY[key], actor=actor))
        except IntegrityError:  # installed meanwhile by someone else
            already.append(Sop.objects.get(library_key=key))
    return InstalledSops(installed, already)
