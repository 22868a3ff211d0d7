"""The sample store's surroundings: its customers, where parcels travel, how they pay, and the
month names the agent speaks dates with."""

from __future__ import annotations

from datetime import date

PEOPLE: tuple[tuple[str, str, str], ...] = (
    ("Olivia", "Bennett", "en"),
    ("Liam", "Carter", "en"),
    ("Emma", "Hughes", "en"),
    ("Noah", "Foster", "en"),
    ("Ava", "Russell", "en"),
    ("Ethan", "Griffin", "en"),
    ("Sophia", "Hayes", "en"),
    ("Mason", "Myers", "en"),
    ("Isabella", "Ford", "en"),
    ("Lucas", "Hamilton", "en"),
    ("Mia", "Graham", "en"),
    ("Logan", "Sullivan", "en"),
    ("Amelia", "Wallace", "en"),
    ("James", "Woods", "en"),
    ("Harper", "Cole", "en"),
    ("Benjamin", "West", "en"),
    ("Evelyn", "Jordan", "en"),
    ("Henry", "Owens", "en"),
    ("Abigail", "Reynolds", "en"),
    ("Alexander", "Fisher", "en"),
    ("Emily", "Ellis", "en"),
    ("Daniel", "Harrison", "en"),
    ("Ella", "Gibson", "en"),
    ("Matthew", "McDonald", "en"),
    ("Scarlett", "Cruz", "en"),
    ("Jackson", "Marshall", "en"),
    ("Grace", "Ortiz", "en"),
    ("Samuel", "Gomez", "en"),
    ("Chloe", "Murray", "en"),
    ("David", "Freeman", "en"),
    ("Zoe", "Wells", "en"),
    ("Joseph", "Webb", "en"),
    ("Lily", "Simpson", "en"),
    ("Owen", "Stevens", "en"),
    ("Hannah", "Tucker", "en"),
    ("Wyatt", "Porter", "en"),
    ("Nora", "Hunter", "en"),
    ("Lucia", "Fernandez", "es"),
    ("Javier", "Morales", "es"),
    ("Lukas", "Schneider", "de"),
)
EMAIL_DOMAINS = ("example.com", "example.net", "example.org", "mail.example.com")
AREA_CODES = ("212", "206", "303", "312", "404", "415", "512", "617")


CARRIERS = ("UPS", "FedEx", "USPS")
CITIES = ("Memphis, TN", "Louisville, KY", "Reno, NV", "Columbus, OH", "Dallas, TX", "Newark, NJ")
COUNTRIES = ("Canada", "Mexico", "the UK", "Germany", "Australia")
CARDS = ("Visa ending in 4242", "Mastercard ending in 5454", "Amex ending in 0005", "Visa ending in 1881")
MONTH_NAMES = {
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
    "es": (
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ),
    "de": (
        "Januar",
        "Februar",
        "März",
        "April",
        "Mai",
        "Juni",
        "Juli",
        "August",
        "September",
        "Oktober",
        "November",
        "Dezember",
    ),
}


def spoken_date(day: date | str | None, language: str) -> str:
    """A date (or an ISO date) as the agent says it: "Nov 3", "3 de noviembre", "3. November"."""
    if day is None:
        return ""
    day = date.fromisoformat(day) if isinstance(day, str) else day
    month = MONTH_NAMES[language][day.month - 1]
    if language == "es":
        return f"{day.day} de {month}"
    if language == "de":
        return f"{day.day}. {month}"
    return f"{month} {day.day}"
