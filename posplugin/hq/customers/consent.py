"""What a customer agrees to when they join, in plain words, versioned.

A new wording is a new ``VERSION``: a consent is recorded against the version
whose words the customer was shown, and a page that shows old words cannot
record a consent (it must reload them first).
"""

from __future__ import annotations

from ... import texts

VERSION = "2026-12"
# ``tiering`` is required for a tier; ``invitations`` and ``listening`` are optional.
SCOPES = ("tiering", "invitations", "listening")
REQUIRED = ("tiering",)
LANGUAGES = ("en", "nb")

TEXT = {
    "en": {
        "title": "What you agree to",
        "intro": ("This store chain gives better service to customers whose posts reach and move "
                  "many people. If you agree, we measure that from the accounts you link yourself."),
        "tiering": ("Tiering: we read your follower count and the likes and comments on your last 12 "
                    "posts from the accounts you link, about once a week, and give our stores a "
                    "service level for your phone number or email. It can only add service: no one "
                    "is served worse for not joining or for a low figure."),
        "staff_see": ("What staff see: at the till, the cashier sees your service level and tier, your "
                      "follower count, engagement and engaged reach, the interests stores have for you, "
                      "whether you showed your pass, and the name you give at the till, on a card like "
                      "the example below. Staff never see your phone number or email, which accounts "
                      "you linked, or your posts (with listening, below, an excerpt without your name)."),
        "card_caption": "Example: the card a cashier would see for a customer like this",
        "invitations": ("Invitations (optional): after a purchase, staff may invite you to share, "
                        "review, or join a product test or an event."),
        "listening": ("Listening (optional): we read the public posts of the accounts you link, keep the "
                      "text of those that may be about our stores for 30 days, and show the store you "
                      "visited a short excerpt and what it was about, so staff can fix it or thank the "
                      "team. Staff never see who wrote it: not your name, your account or your level. You see and can remove what we heard "
                      "on your page."),
        "rights": ("You can withdraw at any time, here, as easily as you agreed. Your stores stop "
                   "using your level at their next update. We keep only keyed hashes of your phone "
                   "number or email, never the number or address itself."),
    },
    "nb": {
        "title": "Dette samtykker du til",
        "intro": ("Denne kjeden gir bedre service til kunder som når og engasjerer mange med innleggene "
                  "sine. Sier du ja, måler vi det fra kontoene du selv kobler til."),
        "tiering": ("Nivå: vi leser antall følgere og liker-klikk og kommentarer på dine 12 siste "
                    "innlegg fra kontoene du kobler til, omtrent én gang i uka, og gir butikkene våre et "
                    "servicenivå for telefonnummeret eller e-posten din. Det kan bare gi mer service: "
                    "ingen får dårligere service for å la være å bli med eller for lave tall."),
        "staff_see": ("Dette ser de ansatte: i kassen ser kassereren servicenivået og nivånavnet ditt, "
                      "antall følgere, engasjement og engasjert rekkevidde, interessene butikkene har for "
                      "deg, om du viste passet ditt, og navnet du oppgir i kassen, på et kort som "
                      "eksemplet under. De ansatte ser aldri telefonnummeret eller e-posten din, hvilke "
                      "kontoer du koblet til, eller innleggene dine (med lytting, under, et utdrag uten navnet ditt)."),
        "card_caption": "Eksempel: kortet en kasserer ville sett for en kunde som dette",
        "invitations": ("Invitasjoner (valgfritt): etter et kjøp kan ansatte invitere deg til å dele, "
                        "skrive en omtale, teste et produkt eller komme på et arrangement."),
        "listening": ("Lytting (valgfritt): vi leser de offentlige innleggene på kontoene du kobler til, "
                      "tar vare på teksten i dem som kan handle om butikkene våre i 30 dager, og viser "
                      "butikken du var i et kort utdrag og hva innlegget handlet om, så de ansatte kan rette "
                      "det eller takke laget. Ansatte ser aldri hvem som skrev det: ikke navnet ditt, kontoen "
                      "din eller nivået ditt. På siden din ser "
                      "du og kan fjerne det vi har hørt."),
        "rights": ("Du kan trekke samtykket når som helst, her, like enkelt som du ga det. Butikkene "
                   "slutter å bruke nivået ditt ved neste oppdatering. Vi lagrer bare nøkkelhasher av "
                   "telefonnummeret eller e-posten din, aldri selve nummeret eller adressen."),
    },
}


# The example customer on the consent screen's card: what staff would see.
EXAMPLE = {"level": "murdoch", "tier": "nano", "followers": 4_200, "engagement_rate": 0.062,
           "engaged_reach": 260, "niches": ("running", "coffee"), "display_name": "Sam"}


def example_card(language: str) -> dict:
    """The till card for :data:`EXAMPLE`, in the words a cashier would read it."""
    words = texts.service_prompt(**EXAMPLE, language=language)
    return {"level": texts.message(f"level.{EXAMPLE['level']}", language), "name": EXAMPLE["display_name"],
            "who": words["who"], "action": words["short_action"],
            "niches": texts.interests(EXAMPLE["niches"], language)}


def document() -> dict:
    """The current consent text: version, scopes, which are required, the words
    per language, and per language the example card staff would see."""
    return {"version": VERSION, "scopes": list(SCOPES), "required": list(REQUIRED), "text": TEXT,
            "card": {language: example_card(language) for language in LANGUAGES}}
