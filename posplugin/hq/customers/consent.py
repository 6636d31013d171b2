"""What a customer agrees to when they join, in plain words, versioned.

A new wording is a new ``VERSION``: a consent is recorded against the version
whose words the customer was shown, and a page that shows old words cannot
record a consent (it must reload them first).
"""

from __future__ import annotations

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
                    "is served worse for not joining or for a low figure. Staff never see your "
                    "accounts or your posts."),
        "invitations": ("Invitations (optional): after a purchase, staff may invite you to share, "
                        "review, or join a product test or an event."),
        "listening": ("Listening (optional): we read the public posts of the accounts you link, keep the "
                      "text of those that may be about our stores for 30 days, and tell the store you "
                      "visited what a post was about so staff can fix it or thank the team. Staff never "
                      "see your name, your account or your level. You see and can remove what we heard "
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
                    "ingen får dårligere service for å la være å bli med eller for lave tall. "
                    "Ansatte ser aldri kontoene eller innleggene dine."),
        "invitations": ("Invitasjoner (valgfritt): etter et kjøp kan ansatte invitere deg til å dele, "
                        "skrive en omtale, teste et produkt eller komme på et arrangement."),
        "listening": ("Lytting (valgfritt): vi leser de offentlige innleggene på kontoene du kobler til, "
                      "tar vare på teksten i dem som kan handle om butikkene våre i 30 dager, og forteller "
                      "butikken du var i hva innlegget handlet om, så de ansatte kan rette det eller takke "
                      "laget. Ansatte ser aldri navnet ditt, kontoen din eller nivået ditt. På siden din ser "
                      "du og kan fjerne det vi har hørt."),
        "rights": ("Du kan trekke samtykket når som helst, her, like enkelt som du ga det. Butikkene "
                   "slutter å bruke nivået ditt ved neste oppdatering. Vi lagrer bare nøkkelhasher av "
                   "telefonnummeret eller e-posten din, aldri selve nummeret eller adressen."),
    },
}


def document() -> dict:
    """The current consent text: version, scopes, which are required, and the words per language."""
    return {"version": VERSION, "scopes": list(SCOPES), "required": list(REQUIRED), "text": TEXT}
