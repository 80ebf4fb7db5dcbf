"""Text templates and vocabulary for the demo feeds.

Every template names its brand through ``{brand}`` (the nominative name, a whole word), so
each generated text matches that brand's demo query. Finnish templates never inflect a
brand name except the Kahvila Aurora ones, whose forms (``Kahvila Auroran``,
``Kahvila Aurorassa``) are listed in that brand's query. English negatives lean on words
that VADER's lexicon scores strongly negative (terrible, awful, rude, worst, disappointed).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

Sentiment = Literal["positive", "neutral", "negative"]
Lang = Literal["en", "fi"]
SENTIMENTS: tuple[Sentiment, ...] = ("positive", "neutral", "negative")


@dataclass(frozen=True, slots=True)
class Brand:
    name: str
    handle: str  # with the "@"
    tag: str  # with the "#"
    site: str  # a host under .example, never a real one


NORDLIGHT = Brand("Nordlight", "@nordlight", "#nordlight", "nordlight.example")
BREWHAUS = Brand("Brewhaus", "@brewhaus", "#brewhaus", "brewhaus.example")
AURORA = Brand("Kahvila Aurora", "@kahvila_aurora", "#kahvilaaurora", "kahvila-aurora.example")
ALL_BRANDS: tuple[Brand, ...] = (NORDLIGHT, BREWHAUS, AURORA)

# --- vocabulary -------------------------------------------------------------------------

EN_DRINKS = (
    "flat white",
    "oat latte",
    "cappuccino",
    "filter coffee",
    "cold brew",
    "chai latte",
    "mocha",
    "double espresso",
)
EN_BAKES = (
    "cinnamon bun",
    "cardamom bun",
    "blueberry pie",
    "croissant",
    "rye sandwich",
    "Karelian pie",
    "almond cake",
)
FI_DRINKS = ("kahvi", "latte", "cappuccino", "suodatinkahvi", "kaakao", "espresso", "chai latte")
FI_BAKES = (
    "korvapuusti",
    "pulla",
    "mustikkapiirakka",
    "karjalanpiirakka",
    "voisilmäpulla",
    "croissant",
)
# (nominative, inessive "in <city>")
CITIES = (
    ("Helsinki", "Helsingissä"),
    ("Tampere", "Tampereella"),
    ("Turku", "Turussa"),
    ("Oulu", "Oulussa"),
    ("Espoo", "Espoossa"),
    ("Jyväskylä", "Jyväskylässä"),
    ("Kuopio", "Kuopiossa"),
    ("Lahti", "Lahdessa"),
)
PEOPLE = (
    "Aino K.",
    "Mikko Laine",
    "Sanna",
    "Jussi Virtanen",
    "Emma W.",
    "Liam O'Brien",
    "Päivi Mäkelä",
    "Tuomas",
    "Olivia R.",
    "Noah Smith",
    "Elina Häkkinen",
    "Ville",
    "Chloé Dubois",
    "Sofia N.",
    "Jön & Katja",
)
EMOJI: dict[Sentiment, tuple[str, ...]] = {
    "positive": ("☕", "😍", "👍", "🥐", "💛", ""),
    "neutral": ("", "", "☕", "🤔"),
    "negative": ("😡", "👎", "🙄", "😤", ""),
}
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")

# --- social posts and forum bodies ------------------------------------------------------

SOCIAL: dict[tuple[Lang, Sentiment], tuple[str, ...]] = {
    ("en", "positive"): (
        "Best {bake} in {city}, hands down. {brand} never disappoints {emoji}",
        "Shoutout to the friendly barista at {brand} {city} who remembered my order. "
        "Great start to the day! {tag}",
        "The new {drink} at {brand} is amazing. Love it {emoji}",
        "Lovely {bake} and excellent {drink} at {brand} today. Highly recommend! {tag}",
        "{handle} thank you for the wonderful service this morning, the staff were so kind {emoji}",
        "Honestly the {drink} at {brand} is perfect. Happy customer here, see {url}",
    ),
    ("en", "neutral"): (
        "{brand} opens a new café in {city} next month, apparently.",
        "Does anyone know if {brand} in {city} has oat milk?",
        "Grabbed a {drink} at {brand} before the train.",
        "{brand} is changing its opening hours in {city} from {weekday}. Details: {url}",
        "Meeting at {brand} on the main square at 3pm, see you there {tag}",
        "Working from {brand} in {city} today. The wifi password is on the receipt.",
    ),
    ("en", "negative"): (
        "Terrible experience at {brand} {city}: cold coffee and rude staff. Worst {drink} "
        "ever. So disappointed {emoji}",
        "Waited {minutes} minutes for a {drink} at {brand}. Awful service, never again {emoji}",
        "{brand} refused my refund for a stale {bake}. Horrible customer service, I am "
        "really angry.",
        "Heard a rumour about food poisoning after eating at {brand} in {city}. Disgusting "
        "and scary if true.",
        "{handle} your app crashes at checkout every single time. Useless and terrible {tag}",
        "The {bake} at {brand} was awful and the barista was rude. Worst café in {city}, "
        "very disappointed.",
    ),
    ("fi", "positive"): (
        "Paras {bake} ikinä! {brand} {city_in} on aivan ihana {emoji}",
        "Todella ystävällinen barista tänään, kiitos {brand}! {tag}",
        "{brand} ja {drink} = täydellinen aamu {emoji}",
        "Suosittelen lämpimästi: {brand} {city_in}, ihana {bake} ja hyvä palvelu.",
        "Kiitos {brand}, palvelu oli erinomaista ja {drink} oli tosi hyvää {emoji}",
    ),
    ("fi", "neutral"): (
        "Onko {brand} {city_in} auki sunnuntaina?",
        "{brand} avaa uuden kahvilan ensi kuussa. Lisätietoja: {url}",
        "Haettiin {drink} ja {bake} mukaan, {brand} oli matkan varrella.",
        "Tänään etätöissä, paikkana {brand} {city_in}. {tag}",
        "Onko kenelläkään kokemusta, miten {brand} hoitaa tilaukset sovelluksella?",
    ),
    ("fi", "negative"): (
        "Kylmää kahvia ja töykeä henkilökunta. {brand} {city_in} oli tänään surkea {emoji}",
        "Jonotin {minutes} minuuttia, {brand} on ihan järkyttävän hidas. Ei enää ikinä.",
        "{brand} ei suostunut hyvitykseen, vaikka {bake} oli pilaantunut. Todella huono "
        "asiakaspalvelu.",
        "Kuulin huhun ruokamyrkytyksestä, {brand} {city_in}. Onko tämä totta?? {emoji}",
        "Sovellus kaatuu kassalla joka kerta, {brand} korjatkaa tämä! {tag}",
    ),
}

# Posts naming two brands: {brand} comes out ahead of {other}.
SOCIAL_PAIR: dict[Lang, tuple[str, ...]] = {
    "en": (
        "Switched from {other} to {brand} and the {drink} is so much better. Great choice {emoji}",
        "{brand} vs {other}: {brand} wins on the {bake}, {other} on price.",
        "Gave up on {other} after an awful {minutes} minute wait, {brand} is my place now.",
    ),
    "fi": (
        "Vaihto: {other} → {brand}. Ei kaduta yhtään, {drink} on paljon parempaa!",
        "{brand} vai {other}? Minusta {brand} on parempi, {bake} on ihana.",
        "Koko toimisto vertailee: {brand} ja {other}. Kumpi on parempi?",
    ),
}

# Extra, brand-specific posts: inflected Kahvila Aurora forms and the "Aurora cafe" alias.
SOCIAL_EXTRA: dict[str, tuple[tuple[Lang, Sentiment, str], ...]] = {
    AURORA.name: (
        ("fi", "positive", "Kävin eilen Kahvila Aurorassa, {bake} oli tosi hyvä! {emoji}"),
        ("fi", "positive", "Kahvila Auroran {drink} on kaupungin paras. {tag}"),
        ("fi", "negative", "Kahvila Aurorassa jonotettiin taas {minutes} minuuttia. Surkeaa."),
        ("en", "positive", "Tried the Aurora cafe in {city}, the {bake} was lovely {emoji}"),
        ("en", "negative", "Aurora cafe in {city} was awful today, rude staff and cold coffee."),
    ),
}

# The negative burst about Nordlight's app, ~3 days before "now".
SPIKE: dict[Lang, tuple[str, ...]] = {
    "en": (
        "{handle} app crashed at checkout and charged me twice!! Terrible. I want my money "
        "back {emoji}",
        "Nordlight app charged me twice for one {drink}. Awful, worst update ever. {tag}",
        "Is the Nordlight app down? It crashes at payment and my card got charged twice. Furious.",
        "Charged twice AGAIN by the Nordlight app. Horrible, really disappointed {emoji}",
        "Nordlight app crash at checkout, then a double charge. This is terrible, fix it {handle}",
        "Worst app ever. Nordlight took my money twice and the refund button crashes too. {url}",
    ),
    "fi": (
        "Nordlight sovellus kaatui maksaessa ja veloitti kahdesti! Ihan surkeaa {emoji}",
        "Veloitettiin kahteen kertaan, Nordlight sovellus jumittaa kassalla. Rahat takaisin!",
        "Onko Nordlight sovellus rikki? Kortilta lähti kaksi maksua yhdestä kahvista. {tag}",
    ),
}

# Mentions the street, not the brand: the Nordlight query excludes "Nordlight Road".
STREET_POSTS = (
    "Roadworks on Nordlight Road again. At least the Brewhaus on the corner is open.",
    "Brewhaus opens a drive-through on Nordlight Road in {city} next {weekday}.",
)

# --- news -------------------------------------------------------------------------------

NEWS_TITLES: dict[tuple[Lang, Sentiment], tuple[str, ...]] = {
    ("en", "positive"): (
        "{brand} named best café chain in Finland",
        "{brand} opens {n} new cafés in {city} after a great year",
        "{brand} cinnamon bun wins national bakery award",
        "{brand} praised for excellent service in customer survey",
    ),
    ("en", "neutral"): (
        "{brand} reports quarterly results in line with expectations",
        "{brand} to open flagship café in {city}",
        "{brand} chief executive discusses coffee bean prices",
        "{brand} updates its mobile app",
        "{brand} changes opening hours in {city}",
    ),
    ("en", "negative"): (
        "{brand} app outage: angry customers charged twice",
        "Customers complain of terrible waits at {brand} after staffing cuts",
        "{brand} criticised over refund policy as complaints mount",
        "Food poisoning rumours: inspectors visit {brand} in {city}, customers worried",
        "Angry customers report rude staff and cold coffee at {brand}",
    ),
    ("fi", "positive"): (
        "{brand} valittiin Suomen parhaaksi kahvilaketjuksi",
        "{brand} avaa {n} uutta kahvilaa, kysyntä kasvaa",
        "{brand} palkittiin vuoden leipomona",
    ),
    ("fi", "neutral"): (
        "{brand} julkaisi osavuosikatsauksen",
        "{brand} muuttaa aukioloaikoja {city_in}",
        "{brand} uudistaa mobiilisovelluksensa",
    ),
    ("fi", "negative"): (
        "Asiakkaat raivoissaan: {brand} veloitti kahdesti sovelluksen häiriön vuoksi",
        "Pitkät jonot ja töykeä palvelu: {brand} saa kritiikkiä",
        "Ruokamyrkytyshuhu: {brand} {city_in} tarkastettiin",
    ),
}

NEWS_LEADS: dict[tuple[Lang, Sentiment], tuple[str, ...]] = {
    ("en", "positive"): (
        "Customers praised the friendly staff and the excellent {bake}, and the company "
        "said it was delighted with the result.",
        "Regulars say the {drink} is the best in {city}; the chain thanked its wonderful baristas.",
    ),
    ("en", "neutral"): (
        "The change takes effect on {weekday}. A spokesperson declined to comment further.",
        "The company said more details will follow in its next report.",
    ),
    ("en", "negative"): (
        "Customers described the experience as terrible and said they were disappointed "
        "and angry; the company apologised for the problems.",
        "Several people reported rude staff and waits of {minutes} minutes, calling the "
        "service awful.",
    ),
    ("fi", "positive"): (
        "Asiakkaat kehuivat ystävällistä henkilökuntaa ja erinomaista kahvia. Yhtiö on "
        "tulokseen erittäin tyytyväinen.",
    ),
    ("fi", "neutral"): (
        "Muutos tulee voimaan ensi viikolla. Yhtiön tiedottaja ei halunnut kommentoida "
        "asiaa tarkemmin.",
    ),
    ("fi", "negative"): (
        "Asiakkaat kuvailivat kokemusta surkeaksi ja olivat pettyneitä. Yhtiö pahoitteli ongelmia.",
    ),
}

NEWS_EXTRA_TITLES: dict[str, tuple[tuple[Lang, Sentiment, str], ...]] = {
    AURORA.name: (
        ("fi", "neutral", "Kahvila Auroran uusi kahvila avautuu {city_in}"),
        ("fi", "negative", "Kahvila Aurorassa havaittiin puutteita hygieniassa"),
    ),
}

# --- reviews ----------------------------------------------------------------------------

REVIEW_TITLES: dict[tuple[Lang, Sentiment], tuple[str, ...]] = {
    ("en", "positive"): ("Lovely morning stop", "Best {bake} in town", "Friendly staff"),
    ("en", "neutral"): ("It's fine", "Average visit", "Nothing special"),
    ("en", "negative"): ("Terrible service", "Never again", "Awful experience"),
    ("fi", "positive"): ("Ihana paikka", "Paras {bake}", "Ystävällinen palvelu"),
    ("fi", "neutral"): ("Ihan ok", "Tavallinen käynti"),
    ("fi", "negative"): ("Surkea kokemus", "Ei enää ikinä", "Huono palvelu"),
}

REVIEW_BODIES: dict[tuple[Lang, Sentiment], tuple[str, ...]] = {
    ("en", "positive"): (
        "The {bake} was fresh and the barista was friendly and helpful. {brand} {city} is "
        "my favourite café.",
        "Great {drink}, cosy seats and lovely staff. {brand} never lets me down {emoji}",
        "Excellent service at {brand} {city}, and the {bake} was perfect.",
    ),
    ("en", "neutral"): (
        "Decent {drink}, ordinary {bake}. {brand} {city} is convenient if you are nearby.",
        "Standard {brand} visit. Seating is limited at lunchtime.",
        "Prices went up a bit at {brand} {city}. The {bake} is the same as before.",
    ),
    ("en", "negative"): (
        "Terrible visit to {brand} {city}. The coffee was cold, the staff were rude and we "
        "waited {minutes} minutes. Very disappointed.",
        "Awful. Asked for a refund for a stale {bake} and the manager refused. Worst "
        "service I have had at {brand}.",
        "The {brand} app crashed at checkout and charged me twice. Horrible experience, "
        "nobody answered my complaint.",
        "Dirty tables, burnt {drink} and a rude cashier. {brand} {city} used to be good, "
        "now it is awful {emoji}",
    ),
    ("fi", "positive"): (
        "Ihana {bake} ja ystävällinen henkilökunta. {brand} {city_in} on lempikahvilani.",
        "Kahvi oli erinomaista ja palvelu nopeaa. {brand} ei petä! {emoji}",
    ),
    ("fi", "neutral"): (
        "Ihan ok {drink}, {bake} oli tavallinen. {brand} {city_in} on kätevä paikka.",
        "Hinnat ovat nousseet, muuten {brand} on entisellään.",
    ),
    ("fi", "negative"): (
        "Kahvi oli kylmää ja henkilökunta töykeää. Odotimme {minutes} minuuttia. {brand} "
        "{city_in}, todella huono kokemus.",
        "Sovellus veloitti kahdesti eikä hyvitystä tullut. {brand}, surkeaa palvelua!",
        "{bake} oli vanha ja hyvitys evättiin. Ei enää ikinä {brand}.",
    ),
}

# --- forum ------------------------------------------------------------------------------

FORUM_TITLES = (
    "Gluten-free options at Nordlight?",
    "Brewhaus loyalty card vs Nordlight app",
    "Kahvila Aurora Tampereella, kokemuksia?",
    "Nordlight app double charge: did you get your money back?",
    "Best cinnamon bun in Helsinki: Nordlight or Kahvila Aurora?",
    "Brewhaus prices this year",
    "Onko Nordlight sovelluksessa vikaa?",
    "Working remotely from Brewhaus, good idea?",
    "Kahvila Aurora vai Nordlight, kumpi parempi?",
    "Nordlight barista jobs: anyone applied?",
    "Brewhaus cold brew recipe leak",
    "Nordlight opening hours at Christmas",
    "Kahvila Auroran uusi menu",
    "Rude staff at Nordlight Kamppi?",
    "Brewhaus vs Kahvila Aurora for meetings",
    "Nordlight refund policy explained",
    "Vegan pastries at Brewhaus",
    "Nordlight Oulu closing?",
)


# --- channels, news outlets and fixed documents ------------------------------------------

# URL path -> (channel title, channel link, channel description) for the RSS feeds.
CHANNELS: dict[str, tuple[str, str, str]] = {
    "/news/nordlight.xml": (
        "Nordlight news",
        "https://news.example/nordlight",
        "News coverage of Nordlight",
    ),
    "/social/mentions.xml": (
        "Social mentions",
        "https://social.example/search",
        "Posts mentioning Nordlight, Brewhaus and Kahvila Aurora",
    ),
    "/news/competitors.xml": (
        "Competitor news",
        "https://news.example/competitors",
        "News about Brewhaus and Kahvila Aurora",
    ),
    "/forum/threads.xml": (
        "Coffee forum: latest threads",
        "https://forum.example/",
        "Latest threads from the coffee forum",
    ),
    "/broken/truncated.xml": (
        "Nordlight mentions (mirror)",
        "https://mirror.example/",
        "A feed that stops halfway",
    ),
}

OUTLETS = (
    ("Helsinki Daily", "helsinki-daily.example"),
    ("Kahvi Times", "kahvitimes.example"),
    ("Talous Today", "talous-today.example"),
    ("Nordic Food Wire", "foodwire.example"),
)
SCRIPT = '<script>document.title = "kuulo demo: this script must never run";</script>'

NOT_A_FEED = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Nordlight · Coffee &amp; Bakery</title>
  <link rel="alternate" type="application/rss+xml" href="/news/nordlight.xml">
</head>
<body>
  <h1>Nordlight</h1>
  <p>Finnish coffee &amp; cinnamon buns since 1998. This is a web page, not a feed.</p>
  <ul><li><a href="/menu">Menu</a></li><li><a href="/cafes">Find a café</a></li></ul>
</body>
</html>
"""


def bomb() -> str:
    """A four-level "billion laughs": 1,000 copies of "lol" once expanded."""
    levels = ['  <!ENTITY lol0 "lol">']
    for level in range(1, 4):
        levels.append(f'  <!ENTITY lol{level} "{f"&lol{level - 1};" * 10}">')
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        "<!DOCTYPE rss [\n" + "\n".join(levels) + "\n]>\n"
        '<rss version="2.0"><channel><title>Nordlight &lol3;</title>'
        "<link>https://bomb.example/</link><description>&lol3;</description>"
        "<item><title>Nordlight &lol3;</title><guid>bomb-1</guid></item>"
        "</channel></rss>\n"
    )


def _pick(rng: random.Random, options: tuple[str, ...]) -> str:
    return options[rng.randrange(len(options))]


def fill(
    rng: random.Random,
    template: str,
    brand: Brand,
    *,
    lang: Lang,
    sentiment: Sentiment,
    other: Brand | None = None,
) -> str:
    """Fill ``template`` with ``brand`` and random vocabulary; the result is stripped."""
    city, city_in = CITIES[rng.randrange(len(CITIES))]
    values = {
        "brand": brand.name,
        "handle": brand.handle,
        "tag": brand.tag,
        "other": other.name if other else "",
        "drink": _pick(rng, EN_DRINKS if lang == "en" else FI_DRINKS),
        "bake": _pick(rng, EN_BAKES if lang == "en" else FI_BAKES),
        "city": city,
        "city_in": city_in,
        "minutes": str(rng.choice((25, 30, 40, 45, 50, 60))),
        "weekday": _pick(rng, WEEKDAYS),
        "emoji": _pick(rng, EMOJI[sentiment]),
        "n": str(rng.randint(2, 9)),
        "url": f"https://{brand.site}/{rng.choice(('app', 'news', 'menu', 'help'))}"
        f"?ref={rng.randint(100, 999)}",
    }
    text = " ".join(template.format(**values).split())
    return text[:1].upper() + text[1:]


def fill_from(
    rng: random.Random,
    table: dict[tuple[Lang, Sentiment], tuple[str, ...]],
    brand: Brand,
    lang: Lang,
    sentiment: Sentiment,
) -> str:
    """Fill a random template for ``lang`` and ``sentiment`` from ``table``."""
    template = _pick(rng, table[(lang, sentiment)])
    return fill(rng, template, brand, lang=lang, sentiment=sentiment)


def pick(
    rng: random.Random,
    table: dict[tuple[Lang, Sentiment], tuple[str, ...]],
    lang: Lang,
    sentiment: Sentiment,
) -> str:
    """A random template for ``lang`` and ``sentiment`` from ``table``."""
    return _pick(rng, table[(lang, sentiment)])
