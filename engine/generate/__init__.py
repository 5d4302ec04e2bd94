"""Deterministic generators of Febrl-like record-linkage tasks.

Two generators write an *align* file, a *target* file and the gold links between them:

``people``
    Person records with exactly the columns of the Febrl data sets (``rec_id, given_name,
    surname, street_number, address_1, address_2, suburb, postcode, state, date_of_birth,
    soc_sec_id``). File A holds the originals (``rec-<i>-org``); file B holds one corrupted
    duplicate (``rec-<i>-dup-0``) of a share of them plus fresh records. The corruption model
    (:class:`ErrorRates`) imitates Febrl 4: most duplicates have 1 to 3 modified fields.
``places``
    Place records (``id, name, country, lat, long, population``) clustered around cities,
    whose duplicates have jittered coordinates and spelling variants of their names, for
    geographic specs.

Everything is drawn from ``numpy.random.default_rng(seed)`` in a fixed order, so the same
``(n, seed)`` (and options) always writes byte-identical files. Work is vectorised with numpy;
Python runs per record only to build strings and to corrupt the fields of duplicates.

Command line::

    engine generate people --size 200000 --seed 1 --out data/gen
    engine generate places --size 50000 --seed 1 --out data/gen
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "NICKNAMES",
    "PEOPLE_COLUMNS",
    "PEOPLE_FIELDS",
    "PLACES_COLUMNS",
    "ErrorRates",
    "GeneratedTask",
    "main",
    "people",
    "places",
]

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]
ObjArray = NDArray[np.object_]
_Table = dict[str, NDArray[Any]]
_Rng = np.random.Generator
_Corruptor = Callable[[str, float, float, float], str]


def _split(text: str) -> list[str]:
    return text.split()


def _ints(values: Any) -> IntArray:
    return np.asarray(values, dtype=np.int64)


def _bools(values: Any) -> BoolArray:
    return np.asarray(values, dtype=np.bool_)


def _strs(values: Any) -> list[str]:
    """``values.tolist()`` of an object array of strings, typed."""
    out: list[str] = values.tolist()
    return out


PEOPLE_FIELDS: Final = (
    "given_name",
    "surname",
    "street_number",
    "address_1",
    "address_2",
    "suburb",
    "postcode",
    "state",
    "date_of_birth",
    "soc_sec_id",
)
"""The compared fields of a person record (every column but ``rec_id``)."""
PEOPLE_COLUMNS: Final = ("rec_id", *PEOPLE_FIELDS)
"""The columns of ``people-a.csv`` and ``people-b.csv``, as in Febrl."""
PLACES_COLUMNS: Final = ("id", "name", "country", "lat", "long", "population")
"""The columns of ``places-a.csv`` and ``places-b.csv``."""

_NUMERIC: Final = frozenset({"street_number", "postcode", "date_of_birth", "soc_sec_id"})
_CHUNK: Final = 131_072  # rows per chunk when writing and selecting

# --------------------------------------------------------------------------------------------
# Built-in value lists
# --------------------------------------------------------------------------------------------

_FEMALE = """
emily olivia chloe jessica sarah charlotte ella isabella sophie mia ruby grace emma hannah lily
amelia zoe lucy georgia madison ava laura rebecca jade amy samantha rachel lauren michelle nicole
stephanie kate katherine catherine elizabeth margaret mary patricia jennifer linda barbara susan
dorothy helen sandra donna carol ruth sharon deborah karen kimberley christine julie joanne kylie
melissa natalie tegan brooke caitlin courtney tayla bianca alana jasmine kayla paige abbey abigail
alexandra alice amber andrea angela anna annabelle ashleigh audrey bethany brianna brittany
cassandra claire danielle eleanor eliza ellie erin eva evie felicity fiona frances gemma hayley
holly imogen india isabelle isla jacqueline jaime jane jemma jenna josephine julia kara keira
kirsten leah lillian louise lucinda maddison madeleine matilda megan melanie mikayla molly monique
naomi nina penelope phoebe rose rosemary sienna stella tahlia tamara tara tessa tiffany valerie
vanessa veronica victoria willow yasmin zara amanda deanna gillian heather irene jean joan joyce
judith kathleen lisa lynette marilyn maureen pamela shirley wendy beverley carmen chelsea ebony
elise gabrielle harriet jacinta kiara lara mackenzie maya natasha olive piper scarlett sofia summer
tabitha teagan trinity yvonne michaela vivienne priya mei linh anh fatima leila sana aisha eleni
maria giulia francesca chiara ingrid astrid greta heidi johanna
"""

_MALE = """
jack thomas joshua william james lachlan daniel samuel benjamin ryan matthew nicholas liam ethan
jacob luke michael dylan jordan alexander oliver riley cooper noah harrison mitchell christopher
jayden joseph connor cameron nathan isaac max jake lucas tyler blake zachary callum hayden bailey
jackson brandon kyle patrick david andrew john robert richard charles peter paul mark steven
stephen anthony kevin brian george edward ronald timothy jason jeffrey gary kenneth donald raymond
gregory frank scott brett craig darren dean glenn grant hamish hugh ian jarrod jeremy joel justin
keith leigh lewis malcolm marcus martin neil owen phillip rhys rodney russell shane simon stuart
todd trent troy vincent wayne adam aaron adrian aidan alan albert alfred angus archie arthur austin
bradley braydon caleb corey damien declan dominic douglas elijah ewan fletcher francis frederick
gabriel gordon harry henry hudson hunter jamie jesse jonathan jye kai kieran lawrence leonard levi
logan marco mason nathaniel oscar quentin reuben rory sebastian seth spencer theodore toby travis
warren xavier harvey leo mohammed ahmed raj wei minh duc hiroshi kenji giuseppe luca matteo
stefan lars nikolaos dimitri ivan pavel tomasz carlos diego javier
"""

_SURNAMES_COMMON = """
smith jones williams brown wilson taylor nguyen johnson martin white anderson thompson walker
harris lee ryan robinson kelly king davis wright evans roberts green hall wood jackson clarke patel
campbell mitchell hughes edwards turner hill scott cooper morris ward moore stewart baker young
murphy lewis clark watson harrison phillips bennett cook parker collins morgan allen bell price
russell davies graham shaw adams marshall murray hunt mills ross fraser hamilton kennedy gray reid
tran singh chen wang
"""

_SURNAMES_MORE = """
ferguson mcdonald macdonald mackenzie mclean mcleod sullivan obrien oconnor byrne walsh doyle quinn
brennan fitzgerald gallagher kavanagh maguire donnelly hayes burke carroll dwyer lynch nolan barrett
blake bishop coleman dixon george lowe morrison berry webb matthews mason rowe parr painter hobson
fletcher chapman gibson holmes hudson knight lawrence palmer pearce porter richards spencer stevens
wallace watts wells west willis woods abbott armstrong atkinson bailey barker barnes bates beck
black bond boyd bradley brooks burns butler carter chambers cole cox crawford cunningham dawson day
dunn elliott ellis fisher ford foster fox francis gardner gordon grant griffiths hart hawkins
hayward henderson holland howard hunter james jenkins jordan kemp lane lloyd long mann marsh
mccarthy miles moss newman norris owen payne perry powell reynolds rice riley rogers rose sanders
saunders sharp simpson slater stone sutton thomas tucker walters warren weston wheeler whittaker
wilkinson williamson muller schmidt schneider fischer weber meyer wagner becker schulz hoffmann
koch richter klein wolf schroeder neumann braun zimmermann kruger hartmann lange werner krause
lehmann kaiser fuchs vogel friedrich keller rossi russo ferrari esposito bianchi romano colombo
ricci marino greco bruno gallo conti deluca costa giordano mancini rizzo lombardi moretti barbieri
fontana santoro mariani rinaldi caruso ferrara galli martini leone longo gentile martinelli vitale
serra coppola desantis marchetti parisi conte ferraro fabbri bianco marini grasso valentini
messina gatti pellegrini palumbo farina monti cattaneo morelli amato silvestri testa carbone
giuliani barone caputo guerra palmieri bernardi fiore papadopoulos georgiou nikolaidis papadakis
konstantinou dimitriou ioannou vlahos karagiannis christodoulou economou pappas alexiou
anagnostou petropoulos kyriakou stavrou theodorou vasiliou antoniou le pham hoang huynh phan vu vo
dang bui do ho ngo duong ly truong dinh lam mai li zhang liu yang huang zhao wu zhou xu sun ma zhu
hu guo he lin gao luo cheng liang wong chan cheung lau ng tan lim tang chow leung yip sharma kumar
gupta shah mehta iyer reddy nair rao chopra kapoor malhotra joshi desai pillai menon bhat verma
chaudhary das khoury haddad nasser saleh hassan ibrahim mansour karam aziz habib rahman ahmed ali
hussein abboud najjar bakker janssen visser smit mulder dekker vermeulen brouwer bos vos peters
hendriks dijkstra nowak kowalski wisniewski wojcik kowalczyk kaminski lewandowski zielinski
szymanski wozniak dabrowski kozlowski jankowski mazur kwiatkowski petrovic jovanovic nikolic
markovic horvat novak kovac ivanov petrov popov smirnov kuznetsov sokolov shevchenko bondarenko
kovalenko garcia rodriguez martinez hernandez lopez gonzalez perez sanchez ramirez torres flores
rivera gomez diaz reyes morales cruz ortiz gutierrez ruiz alvarez castillo jimenez moreno romero
hansen johansen olsen larsen andersen pedersen nilsen jensen nielsen lindqvist johansson karlsson
nilsson eriksson larsson olsson persson svensson lindberg lundgren kim park choi jung kang cho
yoon jang han sato suzuki takahashi tanaka watanabe ito yamamoto nakamura kobayashi kato
"""

_SURNAMES_SPACED = (
    "de vries",
    "van dijk",
    "de jong",
    "de boer",
    "van der berg",
    "de groot",
    "di stefano",
    "de silva",
    "van den bosch",
    "la rosa",
)

# Each line: a formal name, then its usual short forms (the map works both ways).
_NICKNAME_LINES = """
william bill will billy liam
robert bob rob bobby robbie
elizabeth liz beth lizzie eliza betty
katherine kate kath kathy katie
catherine cathy cate kate
margaret maggie meg peggy
richard rick dick richie
james jim jimmy jamie
john jack johnny
michael mike mick mikey
thomas tom tommy
christopher chris kit
matthew matt
daniel dan danny
anthony tony
joseph joe joey
edward ed eddie ted
charles charlie chuck
benjamin ben benny
samuel sam sammy
alexander alex xander
nicholas nick nicky
jonathan jon jonny
patrick pat paddy
timothy tim timmy
stephen steve stevie
steven steve
andrew andy drew
david dave davey
peter pete
gregory greg
jennifer jen jenny
jessica jess jessie
rebecca becky bec
victoria vicky tori
alexandra alex sandra lexi
samantha sam sammie
susan sue suzie
deborah deb debbie
patricia pat trish tricia
christine chris tina
kimberley kim
jacqueline jackie
abigail abby gail
madeleine maddie
isabella bella izzy
natalie nat
dorothy dot dottie
frances fran
francis frank
kenneth ken kenny
lawrence larry laurie
raymond ray
ronald ron ronnie
donald don donnie
joshua josh
zachary zac zach
nathan nate
harrison harry
henry harry hank
frederick fred freddie
albert bert al
alfred alf alfie
leonard len lenny leo
douglas doug
bradley brad
mitchell mitch
jacob jake
cameron cam
theodore theo ted
oliver ollie
lachlan lachie
angus gus
annabelle annie belle
amanda mandy
melissa mel missy
melanie mel
penelope penny
rosemary rosie
stephanie steph
valerie val
eleanor ellie nell
charlotte charlie lottie
georgia georgie
matilda tilly tilda
gabrielle gabby
josephine jo josie
caitlin cait
michelle shell
pamela pam
"""


def _nicknames() -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for line in _NICKNAME_LINES.strip().splitlines():
        formal, *short = line.split()
        out.setdefault(formal, []).extend(short)
        for s in short:
            out.setdefault(s, []).append(formal)
    return {k: tuple(dict.fromkeys(v)) for k, v in out.items()}


NICKNAMES: Final[Mapping[str, tuple[str, ...]]] = _nicknames()
"""Given name -> its nicknames or formal forms (both ways), used by the ``nickname`` error."""

_STREET_WORDS = """
acacia banksia wattle waratah jacaranda magnolia oak elm pine cedar willow birch maple poplar
myrtle laurel boronia grevillea kurrajong ironbark bottlebrush casuarina melaleuca lilly
kookaburra lorikeet rosella magpie galah wren robin swallow heron pelican ibis currawong
high church station park victoria george king queen william albert elizabeth edward princes
railway bridge mill market beach ocean river hill valley forest lake spring garden main school
hospital harbour bay cliff ridge glen heath meadow orchard sunset sunrise greenwood hillside
riverside lakeside bayview seaview parkview wentworth macquarie hume flinders sturt bligh hunter
phillip collins bourke lonsdale swanston elizabeth flinders spencer russell exhibition
wellington nelson waterloo trafalgar anzac federation jubilee coronation empire commonwealth
stirling hay murray barrack pitt castlereagh kent sussex clarence york liverpool oxford
cambridge bathurst goulburn argyle cumberland gipps darling ann adelaide wickham grey melbourne
fitzroy gertrude brunswick smith johnston napier canning hardy giblin pinkerton salkauskas
macquoid tullaroop goldfinch maltby forbes light stanley elizabeth spring benjamin berne biffin
"""

_STREET_TYPES = (
    ("street", 0.40),
    ("crescent", 0.16),
    ("place", 0.16),
    ("circuit", 0.08),
    ("avenue", 0.045),
    ("close", 0.04),
    ("drive", 0.025),
    ("court", 0.015),
    ("road", 0.015),
    ("way", 0.008),
    ("terrace", 0.006),
    ("parade", 0.005),
    ("grove", 0.005),
    ("lane", 0.005),
    ("boulevard", 0.003),
    ("highway", 0.002),
    ("loop", 0.003),
    ("rise", 0.003),
    ("square", 0.002),
    ("walk", 0.002),
)

_PROPERTY_WORDS = """
pine-hill manor-house iron-shoe-lodge peppercorn-lodge ethnam-farm evergreen gordonvale littledale
springetts-arcade the-points wintersloe bega-flats kela broadbridge-manor miami inglewood
killarney willaroo kooltuo coaling wellwood tremearne booroondoo-north craigston melima larnach
gilgowie lochadair rosedale fernleigh glenview hillcrest riverview woodlands oakleigh-park
greenacres sunnyside bellevue fairview westwood kingsley-court the-willows the-elms stonehaven
ashgrove brookside cedar-lodge meadowbank highfield
"""

_PROPERTY_SUFFIXES = [
    *_split(
        "lodge farm park house manor station village downs estate homestead gardens court cottage hill creek vale flats plains grange apartments"
    ),
    *["retirement village", "caravan park", "nursing home"],
]

_UNIT_WORDS = ("unit", "flat", "level", "lot", "rmb", "po box", "shop", "suite")

_STATE_SHARES = (
    ("nsw", 0.32),
    ("vic", 0.26),
    ("qld", 0.20),
    ("wa", 0.10),
    ("sa", 0.07),
    ("tas", 0.02),
    ("act", 0.02),
    ("nt", 0.01),
)
_STATES: Final = tuple(s for s, _ in _STATE_SHARES)

# Postcode ranges of each state (inclusive); NT's start with a zero ("0800").
_POSTCODE_RANGES: Final[Mapping[str, tuple[tuple[int, int], ...]]] = {
    "nsw": ((2000, 2599), (2619, 2899), (2921, 2999)),
    "act": ((2600, 2618), (2900, 2920)),
    "vic": ((3000, 3999),),
    "qld": ((4000, 4999),),
    "sa": ((5000, 5799),),
    "wa": ((6000, 6797),),
    "tas": ((7000, 7799),),
    "nt": ((800, 899),),
}

_SUBURBS: Final[Mapping[str, str]] = {
    "nsw": """parramatta blacktown penrith liverpool bankstown chatswood hornsby manly bondi
        randwick newtown marrickville strathfield epping ryde castle-hill baulkham-hills
        campbelltown wollongong dapto newcastle maitland cessnock gosford wyong tamworth armidale
        dubbo orange bathurst wagga-wagga albury goulburn lismore coffs-harbour port-macquarie
        grafton south-grafton broken-hill queanbeyan kiama nowra katoomba richmond windsor cronulla
        miranda sutherland hurstville kogarah rockdale mascot ashfield burwood five-dock drummoyne
        balmain mosman neutral-bay st-ives wahroonga pymble lane-cove winston-hills north-rocks
        kellyville rouse-hill st-marys mount-druitt st-james canterbury stanmore""",
    "vic": """carlton fitzroy brunswick coburg preston reservoir heidelberg box-hill camberwell
        hawthorn kew toorak south-yarra prahran st-kilda brighton sandringham frankston dandenong
        springvale clayton glen-waverley ringwood croydon lilydale werribee sunshine footscray
        williamstown essendon broadmeadows craigieburn geelong ballarat bendigo shepparton wodonga
        mildura warrnambool traralgon sale bairnsdale horsham echuca ormond coolaroo bittern
        beaconsfield-upper st-huberts-island centennial-park glenmore-park""",
    "qld": """toowoomba ipswich logan caboolture redcliffe southport surfers-paradise coolangatta
        nerang robina maroochydore noosa-heads nambour caloundra gympie maryborough hervey-bay
        bundaberg gladstone rockhampton mackay townsville cairns mount-isa emerald dalby warwick
        stanthorpe chermside indooroopilly toowong kangaroo-point fortitude-valley woolloongabba
        sunnybank capalaba cleveland wynnum richlands inala springfield""",
    "wa": """fremantle joondalup rockingham mandurah armadale midland subiaco cottesloe scarborough
        claremont nedlands victoria-park cannington morley balcatta wanneroo bunbury busselton albany
        geraldton kalgoorlie broome karratha port-hedland esperance northam kellerberrin""",
    "sa": """glenelg norwood unley prospect salisbury elizabeth modbury tea-tree-gully marion
        morphett-vale noarlunga port-adelaide mount-barker gawler victor-harbor murray-bridge
        port-augusta port-pirie whyalla port-lincoln mount-gambier renmark""",
    "tas": """hobart launceston devonport burnie ulverstone kingston glenorchy sandy-bay new-town
        moonah bellerive rosny-park sorell huonville george-town wynyard smithton queenstown
        st-helens""",
    "act": """braddon turner reid ainslie dickson lyneham belconnen bruce macquarie aranda cook
        hawker weetangera page scullin higgins holt kambah wanniassa tuggeranong gowrie fadden
        macgregor gungahlin ngunnawal griffith narrabundah red-hill deakin yarralumla curtin""",
    "nt": """darwin palmerston casuarina nightcliff parap fannie-bay stuart-park larrakeyah karama
        malak leanyer alice-springs katherine tennant-creek nhulunbuy jabiru humpty-doo
        howard-springs""",
}

_SUBURB_PREFIXES = (
    "north ",
    "south ",
    "east ",
    "west ",
    "mount ",
    "port ",
    "glen ",
    "lake ",
    "st ",
)
_SUBURB_SUFFIXES = (
    " park", " hills", " heights", " vale", " creek", " beach", " downs", " point", " valley",
    " grove", " gardens", " east", " west", " north", " south", " upper", " junction", " bay",
    " flat", " plains", " river",
)  # fmt: skip
_SUBURB_ENDS = ("ton", "field", "vale", "wood", "dale", "ville", "town", "leigh")

# Morphemes of the name builders: a name is prefix + root + (middle) + suffix, per origin, so
# that hundreds of thousands of distinct names still look like names of that origin.
_SURNAME_ORIGINS = (  # (weight, prefixes, roots, middles, suffixes); "-" stands for nothing
    (
        0.36,
        "-",
        "al ash bar bel ben bram brad brook cal car chal char clay col cor craw dal dar "
        "den dun el far fen fin ful gar gil gold gran had hal ham har hart haw hen her hol hun kel "
        "ken kin lan lar law lin mar mel mer mil mor nor pem pen per ral ran red rid rob row sal "
        "sel shel sher stan stod sum tal tam thor tib tur wal war wat wel wes whit wil win wor wyn "
        "black green brown white wood hill stone thorn bridge cross kings cole foster grey hazel "
        "ab ad amb bas beck bed bil bing bol bran brig brin bur cad chad chat chil clif cod cop "
        "cot cul dav dell dor dray eg ell elm ev fal fel fol fran gat glad god grim hack hadd "
        "hamp hat heb hop horn hud kent kir knot lang led lock lud mal mat mid mol mun ned new oak "
        "ox pad pick pit plum rad rain ram rat rus sad sand scar shap shep shir sid sim spen stam "
        "stap stor swin tad tan tew thurs tol up wad wak warb wen wick wig winch wit wolf yar york",
        "- - - - - - - - - - - - ber den der ing ling ner ring sel ter win lin mer er brook wood "
        "hill stone thorn more burn well field ham bridge ford",
        "- - - ton ley field "
        "ford wood by ham well worth ridge more stone man son ett ock land wick combe hurst shaw "
        "cott den er s ington bury wright ley ton field er ing",
    ),
    (
        0.07,
        "mc mac o",
        "al bri cart don dow far gill gor gow inn ken kin lach laugh leod lean "
        "len man mur nab nal nam phail pher quar rae ros sor tav vey vic wil ghee guire bride cabe "
        "call carthy caul clel cor cray crea cull der dou elroy evoy fad fee gough grath gre gui "
        "hugh iver kay kee kenna kew lin lough mahon mill nee niven rory shane sween tier vean",
        "-",
        "- - - - e an ey y in",
    ),
    (
        0.09,
        "-",
        "ack alb bau beck berg bran buch dietz eck ehr end fal fuch gang gei hab hein "
        "herz hof holz kau kess kirch knap kohl kratz lamb lind mahl metz moos nag ober pfaff rau "
        "reich rein ros sauer schaf schell schon schw seif stein stoll trau vol wald weis wend "
        "wolf zeit zell",
        "- - - - el en er ing",
        "berg mann stein er feld hof bauer meier haus ner "
        "ke inger hardt wald brand bach horn ling mayer",
    ),
    (
        0.11,
        "- - - - - di de",
        "bar bel ber bon bran cal cam can car cas cav cor dal fab fal fer "
        "fil for gal gar gi gio lan lom lor man mar mas mon mor nar pal pan par pel pes pic ros "
        "rus sal san ser tor tra val ven vit zan zuc acc alb amb ang arc bag bal bat benn bert "
        "bocc bram bus carr cic cocc coll conc cur dam don facc fant fior frat gagl gamb gent gorr "
        "grill lam leon loc lucc magg manz marc matt merl mich mol muss negr nicc orl pagl parr "
        "pell perr pizz plac pozz ranz ricc romb rugg salv sart scal sorr spin tagl tomm vacc zamp",
        "- - - - - - ab ag an ar el er ig ol or ett ell in ucc on ac ic it ald",
        "ini etti ello ano one ucci elli ato esi ardi ari oni otti uzzi ino aro ese ola",
    ),
    (
        0.05,
        "-",
        "pap ni kon dim geo ant chr kar vas sta the ele mic pan ath kyr spy yan mav kal "
        "ale lia tso zer mar",
        "- - a o i ada aki ou ela opa",
        "poulos idis akis ou atos iadis opoulos elis ikos",
    ),
    (
        0.09,
        "-",
        "kow now wis woj kam lew ziel szym woz dab koz jan maz kwiat pet jov nik mark "
        "hor kov iv pop smir kuz sok shev bon bog dub gor kar kras lis mal mil nov pav rad sav "
        "stan vas vol zaj zel bal bar bel bor chm chr dom dud gol grab jur kol kon kub lub mak "
        "mich mik mrk nag obr ost pal pilt prz rom sad sko slo sob sta str sus szcz tom trz wal "
        "wil wit wol wron zab zar zur",
        "- - - - - al ar el ol ich ov an in en ow usz ek ar",
        "ski wicz ov enko ic ovic czyk ak ek uk iak ewski owski in ev chuk",
    ),
    (
        0.05,
        "-",
        "and berg dahl eng fors hag hed holm lar lind lund nils ols pers sand sjo sten "
        "strom sven tor wal wik hans jens ped karl erik gus ing rasm niel soren mads kris",
        "- - - - er el an",
        "sen sson strom lund gren qvist berg dahl holm man ing",
    ),
    (
        0.07,
        "-",
        "alv ben bla cab cal cam car cas del dom esc est fer fig gal gar gil gom her ib "
        "jim lar lop luc mar med mend mol mor nav ort pach par per quin ram rey rod rom sal san sol "
        "tor val var vel vic",
        "- - - - ar er and ill ab ud on",
        "ez es ero ado illo ada ano ia ena uez on ales ino",
    ),
    (
        0.03,
        "van_ de_ van_der_ van_den_ ter_ - -",
        "berg bos brink dam dek dijk gr haar hout "
        "jans kamp kos lang meer molen post ruis smit stam veen vliet vos wit zand",
        "- - er el en",
        "ink sma stra dijk hoven berg man ers ing veld hout kamp beek",
    ),
)
_ASIAN_INITIALS = _split("ng tr ph h l d v b th ch kh x q t s zh w y j g k")
_ASIAN_FINALS = _split("uyen an ao ong ung ien inh oan uong ai am eng ang ou in ei ui e u a o")
_GIVEN_ENDINGS_F = _split("a ie elle ine ette ia lyn ah ee ara ina ona issa anne ey ella")
_GIVEN_ENDINGS_M = _split("o an el us ard on en ton ick ias ren ley iel ian")
_AU_ONSETS = _split("b g k m n w y d t l p j c b g k m w y w d t ng")
_AU_VOWELS = _split("a oo i u e ee o a a oo i u")
_AU_MEDIALS = _split("ll rr nn mb nd ng r l n m w k b d g t rn l r n")
_AU_FINALS = _split("- - - - - n l ng r k la ra ong ee ah a")
_EN_PLACE_ROOTS = _split(
    "ash bel brook burn cam clare cliff cran dal elm fair fern glen green hazel heath high holly kings lang lyn mar mill moor oak pem red rich rose sandy shel spring stan sun thorn wat wen west wil win wood"
)
_EN_PLACE_ENDS = _split("dale field wood ton vale ville mont brook hurst leigh more bury worth ley")

# --------------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------------

_DEFAULT_FIELD_WEIGHTS: Final[Mapping[str, float]] = {
    "given_name": 0.16,
    "surname": 0.16,
    "street_number": 0.08,
    "address_1": 0.19,
    "address_2": 0.21,
    "suburb": 0.12,
    "postcode": 0.08,
    "state": 0.025,
    "date_of_birth": 0.045,
    "soc_sec_id": 0.045,
}

_FIELD_KINDS: Final[Mapping[str, tuple[str, ...]]] = {
    "given_name": ("typo", "ocr", "phonetic", "edit", "missing", "nickname", "swap_names", "replace"),
    "surname": ("typo", "ocr", "phonetic", "edit", "missing", "swap_names", "replace"),
    "street_number": ("digit", "transpose", "neighbour", "missing", "replace"),
    "address_1": ("typo", "ocr", "phonetic", "edit", "missing", "tokens"),
    "address_2": ("typo", "ocr", "edit", "missing", "tokens"),
    "suburb": ("typo", "ocr", "phonetic", "edit", "missing", "tokens", "replace"),
    "postcode": ("digit", "transpose", "neighbour", "missing"),
    "state": ("typo", "missing", "replace"),
    "date_of_birth": ("swap_day_month", "off_by_one", "digit", "missing"),
    "soc_sec_id": ("digit", "transpose", "missing", "replace"),
}  # fmt: skip


@dataclass(frozen=True)
class ErrorRates:
    """How the duplicates of ``people`` are corrupted (defaults look like Febrl 4).

    Each duplicate first draws how many fields to modify (``modified_fields[k]`` is the relative
    frequency of ``k`` modified fields), then which ones (``field_weights``, only among the
    fields that are not empty in its original), then for each chosen field one *error kind*
    among those that apply to the field, with the relative weights below (renormalised per
    field). A modified field always differs from its original; swapping given name and surname
    modifies both.

    Error kinds:

    - ``typo``: a keyboard slip (a neighbouring key replaces or joins a character);
    - ``ocr``: an OCR slip (0/o, 1/l, 5/s, rn/m, cl/d, vv/w, li/h...);
    - ``phonetic``: a spelling that sounds alike (ph/f, c/k, ie/y, mc/mac, doubled letters...);
    - ``edit``: a character inserted, deleted, transposed or doubled, or a space inserted;
    - ``missing``: the value is left empty;
    - ``nickname``: a given name replaced by a nickname or formal form (william/bill);
    - ``swap_names``: given name and surname swapped;
    - ``replace``: another value of the same field (a surname after marriage, a new number);
    - ``tokens``: address tokens abbreviated (street/st), dropped, swapped, joined or split;
    - ``digit``: one wrong digit (numbers, postcodes, dates);
    - ``transpose``: two adjacent digits swapped;
    - ``neighbour``: a close number (street number, neighbouring postcode);
    - ``swap_day_month``: day and month swapped in a date when the result is a valid date;
    - ``off_by_one``: a date one year or one day off.

    ``missing_in_originals`` is the share of empty values in the originals (given name,
    street number, address, date of birth; half as many for surname, suburb and state).
    """

    modified_fields: tuple[float, ...] = (0.0, 0.31, 0.34, 0.22, 0.09, 0.03, 0.01)
    field_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(_DEFAULT_FIELD_WEIGHTS), hash=False
    )
    typo: float = 0.25
    ocr: float = 0.07
    phonetic: float = 0.10
    edit: float = 0.23
    missing: float = 0.10
    nickname: float = 0.30
    swap_names: float = 0.05
    replace: float = 0.06
    tokens: float = 0.30
    digit: float = 0.35
    transpose: float = 0.20
    neighbour: float = 0.25
    swap_day_month: float = 0.20
    off_by_one: float = 0.30
    missing_in_originals: float = 0.02

    def __post_init__(self) -> None:
        if not self.modified_fields or any(p < 0 for p in self.modified_fields):
            raise ValueError("modified_fields must hold non-negative frequencies")
        if sum(self.modified_fields) <= 0:
            raise ValueError("modified_fields must not be all zero")
        unknown = sorted(set(self.field_weights) - set(PEOPLE_FIELDS))
        if unknown:
            raise ValueError(f"unknown fields in field_weights: {', '.join(unknown)}")
        if any(w < 0 for w in self.field_weights.values()):
            raise ValueError("field_weights must be non-negative")
        for kind in _ALL_KINDS:
            if self.kind_weight(kind) < 0:
                raise ValueError(f"the weight of {kind} must be non-negative")
        if not 0 <= self.missing_in_originals <= 0.5:
            raise ValueError("missing_in_originals must be within [0, 0.5]")

    def kind_weight(self, kind: str) -> float:
        """The relative weight of one error kind."""
        return float(getattr(self, kind))


_ALL_KINDS: Final = tuple(dict.fromkeys(k for kinds in _FIELD_KINDS.values() for k in kinds))


@dataclass(frozen=True)
class GeneratedTask:
    """The files written by a generator and their sizes."""

    align: Path
    target: Path
    gold: Path
    n_align: int
    n_target: int
    n_links: int


# --------------------------------------------------------------------------------------------
# String corruptions: pure functions of the value and three uniform numbers in [0, 1)
# --------------------------------------------------------------------------------------------

_LETTERS: Final = "abcdefghijklmnopqrstuvwxyz"


def _keyboard() -> dict[str, str]:
    rows = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
    shift = (0.0, 0.5, 0.75, 1.25)
    pos = {c: (r, i + shift[r]) for r, row in enumerate(rows) for i, c in enumerate(row)}
    out: dict[str, str] = {}
    for c, (r, x) in pos.items():
        near = [
            d
            for d, (r2, x2) in pos.items()
            if d != c
            and c.isdigit() == d.isdigit()
            and ((r2 == r and abs(x2 - x) == 1) or (abs(r2 - r) == 1 and abs(x2 - x) < 1))
        ]
        out[c] = "".join(near)
    return out


_KEYBOARD: Final = _keyboard()


def _pattern_map(pairs: Mapping[str, str]) -> tuple[re.Pattern[str], dict[str, tuple[str, ...]]]:
    table = {k: tuple(v.split("|")) for k, v in pairs.items()}
    keys = sorted(table, key=lambda k: (-len(k), k))
    return re.compile("|".join(re.escape(k) for k in keys)), table


_OCR_RE, _OCR = _pattern_map(
    {
        "0": "o", "o": "0", "1": "l|i", "l": "1|i", "i": "1|l", "5": "s", "s": "5", "8": "b",
        "b": "8|h", "2": "z", "z": "2", "6": "g", "g": "9|q", "9": "g", "rn": "m", "m": "rn",
        "cl": "d", "d": "cl", "vv": "w", "w": "vv", "li": "h", "h": "li|b", "nn": "m", "e": "c",
        "c": "e", "u": "ii", "ri": "n",
    }
)  # fmt: skip
_PHONETIC_RE, _PHONETIC = _pattern_map(
    {
        "ph": "f", "f": "ph", "ck": "k|c", "c": "k", "k": "c", "ie": "y|ey|ei", "y": "ie|i",
        "ey": "y|ie", "ei": "ie|ey", "ee": "ea|i", "ea": "ee", "ou": "ow|oo", "ow": "ou",
        "ai": "ay|a", "ay": "ai|ey", "s": "z", "z": "s", "th": "t", "gh": "g|", "wh": "w",
        "kn": "n", "qu": "kw", "x": "ks", "ks": "x", "mc": "mac", "mac": "mc", "er": "a|ar",
        "our": "or", "or": "our", "ll": "l", "tt": "t", "nn": "n", "ss": "s", "rr": "r",
        "mm": "m", "dd": "d", "pp": "p", "l": "ll", "t": "tt", "n": "nn", "r": "rr", "sch": "sh",
        "sh": "sch", "ch": "tch|sh", "oo": "u", "v": "w", "w": "v", "j": "g",
    }
)  # fmt: skip

_ABBREVIATIONS: Final[Mapping[str, tuple[str, ...]]] = {
    "street": ("st", "str"), "road": ("rd",), "avenue": ("ave", "av"), "crescent": ("cres", "cr"),
    "circuit": ("cct", "cir"), "place": ("pl",), "drive": ("dr", "drv"), "court": ("ct",),
    "close": ("cl",), "terrace": ("tce", "ter"), "parade": ("pde",), "highway": ("hwy",),
    "boulevard": ("bvd", "blvd"), "lane": ("ln",), "grove": ("gr", "gv"), "square": ("sq",),
    "mount": ("mt",), "saint": ("st",), "north": ("nth", "n"), "south": ("sth", "s"),
    "east": ("e",), "west": ("w",), "upper": ("upr",), "lower": ("lwr",), "heights": ("hts",),
    "gardens": ("gdns",), "point": ("pt",), "port": ("pt",), "village": ("vlg", "vge"),
    "station": ("stn",), "retirement": ("ret",), "caravan": ("cvn",), "unit": ("u",),
    "level": ("lvl", "l"), "flat": ("f",), "lodge": ("ldg",), "house": ("hse",),
    "park": ("pk",), "creek": ("ck",), "valley": ("vly",), "island": ("is",), "box": ("bx",),
    "st": ("saint", "street"), "mt": ("mount",),
}  # fmt: skip


_ABBREVIATION_KEYS: Final = frozenset(_ABBREVIATIONS)


def _force_change(s: str, u: float, v: float, w: float) -> str:
    """A substitution that is guaranteed to change a non-empty string."""
    if not s:
        return _LETTERS[int(v * 26)]
    i = int(u * len(s))
    c = _LETTERS[int(v * 26)]
    if c == s[i]:
        c = _LETTERS[(_LETTERS.index(c) + 1) % 26]
    return s[:i] + c + s[i + 1 :]


def _typo(s: str, u: float, v: float, w: float) -> str:
    n = len(s)
    if n == 0:
        return s
    i = int(u * n)
    if s[i] == " " or s[i] == "-":
        i = i + 1 if i + 1 < n else max(i - 1, 0)
    near = _KEYBOARD.get(s[i].lower())
    if not near:
        return _force_change(s, u, v, w)
    r = near[int(v * len(near))]
    if w < 0.8:
        return s[:i] + r + s[i + 1 :]
    if w < 0.9:
        return s[:i] + r + s[i:]
    return s[: i + 1] + r + s[i + 1 :]


def _substitute(
    pattern: re.Pattern[str], table: Mapping[str, tuple[str, ...]], s: str, u: float, v: float
) -> str | None:
    found = list(pattern.finditer(s))
    if not found:
        return None
    m = found[int(u * len(found))]
    options = table[m.group()]
    return s[: m.start()] + options[int(v * len(options))] + s[m.end() :]


def _ocr(s: str, u: float, v: float, w: float) -> str:
    out = _substitute(_OCR_RE, _OCR, s, u, v)
    return _typo(s, u, v, w) if out is None or out == s else out


def _phonetic(s: str, u: float, v: float, w: float) -> str:
    out = _substitute(_PHONETIC_RE, _PHONETIC, s, u, v)
    return _typo(s, u, v, w) if out is None or out == s else out


def _edit(s: str, u: float, v: float, w: float) -> str:
    n = len(s)
    i = int(u * n)
    if w < 0.3 and n > 1:  # delete
        return s[:i] + s[i + 1 :]
    if w < 0.55:  # insert
        return s[:i] + _LETTERS[int(v * 26)] + s[i:]
    if w < 0.8 and n > 1:  # transpose
        i = min(i, n - 2)
        return s[:i] + s[i + 1] + s[i] + s[i + 2 :]
    if w < 0.9 and n > 2:  # a space inside a word
        i = max(1, min(i, n - 1))
        return s[:i] + " " + s[i:]
    return s[: i + 1] + s[i : i + 1] + s[i + 1 :] if n else s  # a doubled character


def _tokens(s: str, u: float, v: float, w: float) -> str:
    toks = s.split(" ")
    n = len(toks)
    ops = [] if _ABBREVIATION_KEYS.isdisjoint(toks) else [0]
    if n >= 2:
        ops += [1, 2, 3]
    if max(map(len, toks)) >= 5:
        ops.append(4)
    if not ops:
        return _edit(s, u, v, w)
    op = ops[int(u * len(ops))]
    if op == 0:  # abbreviate (or expand) one token
        at = [i for i, t in enumerate(toks) if t in _ABBREVIATIONS]
        i = at[int(v * len(at))]
        options = _ABBREVIATIONS[toks[i]]
        toks[i] = options[int(w * len(options))]
    elif op == 1:  # drop a token: the last one (a street type) half of the time
        del toks[n - 1 if v < 0.5 else int(w * n)]
    elif op == 2:  # swap two adjacent tokens
        i = int(v * (n - 1))
        toks[i], toks[i + 1] = toks[i + 1], toks[i]
    elif op == 3:  # join two tokens
        i = int(v * (n - 1))
        toks[i : i + 2] = [toks[i] + toks[i + 1]]
    else:  # split a long token
        at = [i for i, t in enumerate(toks) if len(t) >= 5]
        i = at[int(v * len(at))]
        t = toks[i]
        j = 2 + int(w * (len(t) - 3))
        toks[i : i + 1] = [t[:j], t[j:]]
    return " ".join(toks)


def _nickname(s: str, u: float, v: float, w: float) -> str:
    alts = NICKNAMES.get(s)
    return alts[int(u * len(alts))] if alts else _typo(s, u, v, w)


_STRING_KINDS: Final[Mapping[str, _Corruptor]] = {
    "typo": _typo,
    "ocr": _ocr,
    "phonetic": _phonetic,
    "edit": _edit,
    "tokens": _tokens,
    "nickname": _nickname,
    "force": _force_change,
}

# --------------------------------------------------------------------------------------------
# numpy helpers
# --------------------------------------------------------------------------------------------


def _obj(values: Sequence[str] | NDArray[Any]) -> ObjArray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _cdf(weights: Sequence[float] | FloatArray) -> FloatArray:
    w = np.asarray(weights, dtype=np.float64)
    c = np.cumsum(w)
    return np.asarray(c / c[-1], dtype=np.float64)


def _draw(rng: _Rng, cdf: FloatArray, size: int) -> IntArray:
    """Indexes drawn with the probabilities of a cumulative distribution."""
    idx = np.searchsorted(cdf, rng.random(size), side="right")
    return np.minimum(idx, len(cdf) - 1).astype(np.int64)


def _zipf(m: int, offset: float, s: float = 1.0) -> FloatArray:
    """Zipf-Mandelbrot weights of ranks ``0 .. m-1``: a few frequent values, a long tail."""
    return 1.0 / (np.arange(m, dtype=np.float64) + 1.0 + offset) ** s


def _pick(rng: _Rng, values: Sequence[str], size: int) -> ObjArray:
    arr = _obj(values)
    return arr[rng.integers(0, len(arr), size=size)]


def _words(text: str) -> list[str]:
    return [w.replace("-", " ") for w in text.split()]


# --------------------------------------------------------------------------------------------
# Name builders (vectorised: numpy object arrays concatenate strings element-wise)
# --------------------------------------------------------------------------------------------


def _syllables(rng: _Rng, m: int, onsets: Sequence[str], vowels: Sequence[str],
               codas: Sequence[str]) -> ObjArray:  # fmt: skip
    return _pick(rng, onsets, m) + _pick(rng, vowels, m) + _pick(rng, codas, m)  # type: ignore[no-any-return]


def _parts(text: str) -> list[str]:
    return [w.replace("_", " ") if w != "-" else "" for w in text.split()]


def _build_surnames(rng: _Rng, m: int) -> list[str]:
    """``m`` synthetic surnames of several origins (may repeat; deduplicated by the caller)."""
    weights = [o[0] for o in _SURNAME_ORIGINS] + [0.04]
    origin = _draw(rng, _cdf(weights), m)
    out = np.empty(m, dtype=object)
    for k, (_, prefixes, roots, middles, suffixes) in enumerate(_SURNAME_ORIGINS):
        rows = np.flatnonzero(origin == k)
        r = len(rows)
        name = _pick(rng, _parts(prefixes), r) + _pick(rng, _parts(roots), r)
        out[rows] = name + _pick(rng, _parts(middles), r) + _pick(rng, _parts(suffixes), r)
    rows = np.flatnonzero(origin == len(_SURNAME_ORIGINS))
    out[rows] = _pick(rng, _ASIAN_INITIALS, len(rows)) + _pick(rng, _ASIAN_FINALS, len(rows))
    return [s for s in out.tolist() if 3 <= len(s) <= 18 and not _TRIPLE.search(s)]


_TRIPLE: Final = re.compile(r"(.)\1\1|[aeiou]{3}|(.{3,})\2")  # "rrr", "aoe", "fieldfield"


def _build_given(rng: _Rng, m: int, names: Sequence[str], endings: Sequence[str]) -> list[str]:
    """Names from the stem of a known name and a typical ending (mic + ara -> micara)."""
    stems = _obj([n[:3] if len(n) > 4 else n[:2] for n in names])
    stem = stems[rng.integers(0, len(stems), m)]
    out = []
    for s, e in zip(stem.tolist(), _pick(rng, endings, m).tolist(), strict=True):
        if s[-1] in "aeiouy" and e[0] in "aeiouy":
            s = s[:-1]
        out.append(s + e)
    return [s for s in out if len(s) >= 3 and not _TRIPLE.search(s)]


def _build_au_words(rng: _Rng, m: int) -> ObjArray:
    """Words in the style of Australian place names (willaroo, booroondoo, kurrajong)."""
    out = _pick(rng, _AU_ONSETS, m) + _pick(rng, _AU_VOWELS, m)
    out = out + _pick(rng, _AU_MEDIALS, m) + _pick(rng, _AU_VOWELS, m)
    three = rng.random(m) < 0.4
    more = _pick(rng, _AU_MEDIALS, m) + _pick(rng, _AU_VOWELS, m)
    return out + np.where(three, more, "") + _pick(rng, _parts(" ".join(_AU_FINALS)), m)  # type: ignore[no-any-return]


def _build_en_places(rng: _Rng, m: int) -> ObjArray:
    """English-style place words (ashdale, glenbrook, fernleigh)."""
    return _pick(rng, _EN_PLACE_ROOTS, m) + _pick(rng, _EN_PLACE_ENDS, m)  # type: ignore[no-any-return]


def _unique(values: Sequence[str], exclude: set[str], limit: int) -> list[str]:
    out = [v for v in dict.fromkeys(values) if v not in exclude and not _TRIPLE.search(v)]
    return out[:limit]


# --------------------------------------------------------------------------------------------
# People
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Pools:
    female: ObjArray
    female_cdf: FloatArray
    male: ObjArray
    male_cdf: FloatArray
    surnames: ObjArray
    surname_cdf: FloatArray
    streets: ObjArray
    street_cdf: FloatArray
    street_types: ObjArray
    street_type_cdf: FloatArray
    properties: ObjArray
    property_cdf: FloatArray
    suburbs: ObjArray
    suburb_cdf: FloatArray
    suburb_postcode: IntArray
    suburb_state: ObjArray
    state_names: ObjArray


def _given_pool(rng: _Rng, builtin: str, endings: Sequence[str]) -> tuple[ObjArray, FloatArray]:
    names = list(dict.fromkeys(builtin.split()))
    synthetic = _unique(_build_given(rng, 4000, names, endings), set(names), 2500)
    w = np.concatenate([0.965 * _zipf(len(names), 6.0) / _zipf(len(names), 6.0).sum(),
                        np.full(len(synthetic), 0.035 / max(len(synthetic), 1))])  # fmt: skip
    return _obj(names + synthetic), _cdf(w)


def _postcodes(rng: _Rng, states: Sequence[str]) -> IntArray:
    out = np.empty(len(states), dtype=np.int64)
    st = np.asarray(states, dtype=object)
    for state, ranges in _POSTCODE_RANGES.items():
        rows = np.flatnonzero(st == state)
        lows = np.array([lo for lo, _ in ranges])
        sizes = np.array([hi - lo + 1 for lo, hi in ranges])
        which = _draw(rng, _cdf(sizes), len(rows))
        out[rows] = lows[which] + (rng.random(len(rows)) * sizes[which]).astype(np.int64)
    return out


def _people_pools(rng: _Rng, n: int) -> _Pools:
    female, female_cdf = _given_pool(rng, _FEMALE, _GIVEN_ENDINGS_F)
    male, male_cdf = _given_pool(rng, _MALE, _GIVEN_ENDINGS_M)

    common = list(dict.fromkeys(_SURNAMES_COMMON.split()))
    more = [s for s in dict.fromkeys(_SURNAMES_MORE.split()) if s not in common]
    more += list(_SURNAMES_SPACED)
    n_synth = int(np.clip(n // 2, 3000, 350_000))
    synthetic = _unique(_build_surnames(rng, int(n_synth * 1.5) + 100), set(common + more), n_synth)
    mixed = more + synthetic[:3000]
    mixed = [mixed[i] for i in rng.permutation(len(mixed))]
    surnames = _obj(common + mixed + synthetic[3000:])
    surname_cdf = _cdf(_zipf(len(surnames), 12.0))

    words = list(dict.fromkeys(_STREET_WORDS.split()))
    streets = np.concatenate([_obj(words), surnames[: max(2000, len(surnames) // 2)]])
    w = np.concatenate([np.full(len(words), 3.0), _zipf(len(streets) - len(words), 50.0) * 60])
    street_types = _obj([t for t, _ in _STREET_TYPES])
    street_type_cdf = _cdf([p for _, p in _STREET_TYPES])

    n_prop = int(np.clip(n // 5, 2000, 300_000))
    au = _build_au_words(rng, n_prop)
    with_suffix = rng.random(n_prop) < 0.45
    props = au + np.where(with_suffix, " " + _pick(rng, _PROPERTY_SUFFIXES, n_prop), "")
    units = [f"{u} {k}" for u in _UNIT_WORDS for k in range(1, 60)]
    prop_list = _unique(
        _words(_PROPERTY_WORDS) + units[:40] + list(props) + units[40:], set(), 10**7
    )
    properties = _obj(prop_list)
    property_cdf = _cdf(_zipf(len(properties), 30.0, 0.9))

    suburb_names: list[str] = []
    suburb_states: list[str] = []
    for state, text in _SUBURBS.items():
        for s in _words(text):
            suburb_names.append(s)
            suburb_states.append(state)
    order = rng.permutation(len(suburb_names))
    suburb_names = [suburb_names[i] for i in order]
    suburb_states = [suburb_states[i] for i in order]
    n_sub = int(np.clip(n // 25, 1500, 20_000))
    u = rng.random(n_sub)
    real = _obj([x for x in common + more if " " not in x])
    named = real[rng.integers(0, len(real), n_sub)]
    named = named + np.where(rng.random(n_sub) < 0.5, _pick(rng, _SUBURB_ENDS, n_sub), "")
    base = np.where(u < 0.5, _build_au_words(rng, n_sub),
                    np.where(u < 0.8, _build_en_places(rng, n_sub), named))  # fmt: skip
    v = rng.random(n_sub)
    extra = np.where(v < 0.25, _pick(rng, _SUBURB_SUFFIXES, n_sub), "")
    pre = np.where(v > 0.9, _pick(rng, _SUBURB_PREFIXES, n_sub), "")
    synth_sub = _unique(list(pre + base + extra), set(suburb_names), n_sub)
    state_cdf = _cdf([p for _, p in _STATE_SHARES])
    synth_states = [_STATES[i] for i in _draw(rng, state_cdf, len(synth_sub))]
    all_sub = suburb_names + synth_sub
    all_states = _obj(suburb_states + synth_states)
    # Within a state, a few suburbs are big and most are small; states keep their shares.
    suburb_w = np.zeros(len(all_sub))
    for state, share in _STATE_SHARES:
        rows = np.flatnonzero(all_states == state)
        z = _zipf(len(rows), 15.0, 0.9)
        suburb_w[rows] = share * z / z.sum()
    return _Pools(
        female=female,
        female_cdf=female_cdf,
        male=male,
        male_cdf=male_cdf,
        surnames=surnames,
        surname_cdf=surname_cdf,
        streets=streets,
        street_cdf=_cdf(w),
        street_types=street_types,
        street_type_cdf=street_type_cdf,
        properties=properties,
        property_cdf=property_cdf,
        suburbs=_obj(all_sub),
        suburb_cdf=_cdf(suburb_w),
        suburb_postcode=_postcodes(rng, all_states.tolist()),
        suburb_state=all_states,
        state_names=_obj(list(_STATES)),
    )


_DAY0: Final = np.datetime64("1910-01-01", "D")
_DAYS: Final = int((np.datetime64("2010-12-31", "D") - _DAY0).astype(np.int64)) + 1


def _days_to_ymd(days: NDArray[np.datetime64]) -> IntArray:
    months = days.astype("datetime64[M]")
    y = days.astype("datetime64[Y]").astype(np.int64) + 1970
    m = months.astype(np.int64) % 12 + 1
    d = (days - months.astype("datetime64[D]")).astype(np.int64) + 1
    return _ints(y * 10000 + m * 100 + d)


def _ymd_to_days(v: IntArray) -> NDArray[np.datetime64]:
    y, m, d = v // 10000, v // 100 % 100, v % 100
    months = (y - 1970).astype("datetime64[Y]").astype("datetime64[M]") + (m - 1)
    days: NDArray[np.datetime64] = months.astype("datetime64[D]") + (d - 1).astype("timedelta64[D]")
    return days


def _valid_ymd(v: IntArray) -> BoolArray:
    y, m, d = v // 10000, v // 100 % 100, v % 100
    ok = (m >= 1) & (m <= 12) & (d >= 1) & (d <= 31) & (y >= 1000) & (y <= 2999)
    safe = np.where(ok, v, 20000101)
    return _bools(ok & (_days_to_ymd(_ymd_to_days(safe)) == safe))


def _draw_people(rng: _Rng, m: int, pools: _Pools, rates: ErrorRates) -> _Table:
    """``m`` fresh person records as columns (strings; numbers as int64 with -1 when missing)."""
    t: _Table = {}
    female = rng.random(m) < 0.5
    given = np.empty(m, dtype=object)
    given[female] = pools.female[_draw(rng, pools.female_cdf, int(female.sum()))]
    given[~female] = pools.male[_draw(rng, pools.male_cdf, int((~female).sum()))]
    t["female"] = female
    t["given_name"] = given
    t["surname"] = pools.surnames[_draw(rng, pools.surname_cdf, m)]
    t["street_number"] = np.clip(np.exp(rng.normal(3.0, 1.15, m)), 1, 2999).astype(np.int64)
    t["address_1"] = (
        pools.streets[_draw(rng, pools.street_cdf, m)]
        + " "
        + pools.street_types[_draw(rng, pools.street_type_cdf, m)]
    )
    t["address_2"] = np.where(
        rng.random(m) < 0.3, "", pools.properties[_draw(rng, pools.property_cdf, m)]
    ).astype(object)
    sub = _draw(rng, pools.suburb_cdf, m)
    t["suburb"] = pools.suburbs[sub]
    t["postcode"] = pools.suburb_postcode[sub]
    t["state"] = pools.suburb_state[sub]
    days = _DAY0 + rng.integers(0, _DAYS, m).astype("timedelta64[D]")
    t["date_of_birth"] = _days_to_ymd(days)
    t["soc_sec_id"] = rng.integers(1_000_000, 10_000_000, m, dtype=np.int64)
    p = rates.missing_in_originals
    for name, share in (("given_name", p), ("surname", p / 2), ("street_number", 1.5 * p),
                        ("address_1", p), ("suburb", p / 2), ("state", p / 2),
                        ("date_of_birth", p)):  # fmt: skip
        gone = rng.random(m) < share
        t[name][gone] = -1 if name in _NUMERIC else ""
    return t


def _take(t: _Table, rows: IntArray) -> _Table:
    return {k: v[rows] for k, v in t.items()}


def _concat(a: _Table, b: _Table) -> _Table:
    return {k: np.concatenate([a[k], b[k]]) for k in a}


def _present(t: _Table, name: str) -> BoolArray:
    col = t[name]
    return _bools(col >= 0) if name in _NUMERIC else _bools(col != "")


def _n_digits(v: IntArray) -> IntArray:
    return np.floor(np.log10(np.maximum(v, 1))).astype(np.int64) + 1


def _wrong_digit(rng: _Rng, v: IntArray, width: int | None) -> IntArray:
    """One digit replaced by another one (never a leading zero when ``width`` is None)."""
    n = len(v)
    length = np.full(n, width, dtype=np.int64) if width else _n_digits(v)
    p = (rng.random(n) * length).astype(np.int64)
    pw = 10**p
    d = v // pw % 10
    nd = (d + rng.integers(1, 10, n)) % 10
    if width is None:
        lead = (p == length - 1) & (nd == 0)
        nd = np.where(lead, np.where(d == 1, 2, 1), nd)
    return _ints(v + (nd - d) * pw)


def _transpose_digits(rng: _Rng, v: IntArray, width: int | None) -> IntArray:
    n = len(v)
    length = np.full(n, width, dtype=np.int64) if width else _n_digits(v)
    ok = length >= 2
    p = (rng.random(n) * np.maximum(length - 1, 1)).astype(np.int64)
    pw = 10**p
    a, b = v // pw % 10, v // (pw * 10) % 10
    out = v + (b - a) * pw + (a - b) * pw * 10
    if width is None:
        ok &= ~((p + 1 == length - 1) & (a == 0))
    return np.where(ok, out, v)


def _shift_days(v: IntArray, delta: IntArray) -> IntArray:
    return _days_to_ymd(_ymd_to_days(v) + delta.astype("timedelta64[D]"))


def _date_errors(rng: _Rng, v: IntArray, kind: str) -> IntArray:
    n = len(v)
    y, mo, d = v // 10000, v // 100 % 100, v % 100
    day_off = _shift_days(v, np.where(rng.random(n) < 0.5, -1, 1))
    if kind == "swap_day_month":
        out = np.where((d <= 12) & (d != mo), y * 10000 + d * 100 + mo, day_off)
    elif kind == "off_by_one":
        year_off = v + np.where(rng.random(n) < 0.5, -10000, 10000)
        out = np.where(rng.random(n) < 0.5, year_off, day_off)
    else:  # a wrong digit: a year digit (decade or unit), the month or day unit
        pos = np.array([0, 2, 4, 5])[rng.integers(0, 4, n)]
        pw = 10**pos
        dg = v // pw % 10
        out = v + ((dg + rng.integers(1, 10, n)) % 10 - dg) * pw
    return np.where(_valid_ymd(out) & (out != v), out, day_off)


def _numeric_error(rng: _Rng, name: str, v: IntArray, kind: str) -> IntArray:
    n = len(v)
    width = 4 if name == "postcode" else None
    if kind == "missing":
        return np.full(n, -1, dtype=np.int64)
    if name == "date_of_birth":
        return _date_errors(rng, v, kind)
    if kind == "digit":
        return _wrong_digit(rng, v, width)
    if kind == "transpose":
        return _transpose_digits(rng, v, width)
    if kind == "neighbour":
        if name == "postcode":
            step = rng.integers(1, 6, n) * np.where(rng.random(n) < 0.5, -1, 1)
            return np.clip(v + step, 0, 9999)  # type: ignore[no-any-return]
        step = np.array([-2, -1, 1, 2])[rng.integers(0, 4, n)]
        return np.where(v + step >= 1, v + step, v + 2)
    if kind == "replace":
        if name == "soc_sec_id":
            return rng.integers(1_000_000, 10_000_000, n, dtype=np.int64)
        return np.clip(np.exp(rng.normal(3.0, 1.15, n)), 1, 2999).astype(np.int64)
    raise AssertionError(kind)  # pragma: no cover


def _apply_strings(rng: _Rng, col: ObjArray, rows: IntArray, fn: _Corruptor) -> None:
    if len(rows) == 0:
        return
    u = rng.random((len(rows), 3)).tolist()
    col[rows] = _obj([fn(s, a, b, c) for s, (a, b, c) in zip(col[rows].tolist(), u, strict=True)])


def _replace_string(rng: _Rng, t: _Table, name: str, rows: IntArray, pools: _Pools) -> None:
    m = len(rows)
    if name == "surname":
        t[name][rows] = pools.surnames[_draw(rng, pools.surname_cdf, m)]
    elif name == "given_name":
        fem = pools.female[_draw(rng, pools.female_cdf, m)]
        mal = pools.male[_draw(rng, pools.male_cdf, m)]
        t[name][rows] = np.where(t["female"][rows], fem, mal)
    elif name == "suburb":
        t[name][rows] = pools.suburbs[_draw(rng, pools.suburb_cdf, m)]
    elif name == "state":
        cur = t[name][rows]
        new = pools.state_names[rng.integers(0, len(_STATES), m)]
        same = new == cur
        new[same] = pools.state_names[(rng.integers(1, len(_STATES), int(same.sum())))]
        t[name][rows] = new
    else:  # pragma: no cover
        raise AssertionError(name)


def _select_fields(rng: _Rng, t: _Table, rates: ErrorRates) -> BoolArray:
    """Which fields of each duplicate are modified (a weighted draw without replacement)."""
    m = len(t["surname"])
    k = _draw(rng, _cdf(rates.modified_fields), m)
    fw = np.array([rates.field_weights.get(f, 0.0) for f in PEOPLE_FIELDS])
    selected = np.zeros((m, len(PEOPLE_FIELDS)), dtype=np.bool_)
    present = np.stack([_present(t, f) for f in PEOPLE_FIELDS], axis=1)
    for start in range(0, m, _CHUNK):
        stop = min(start + _CHUNK, m)
        w = fw[None, :] * present[start:stop]
        keys = np.full(w.shape, np.inf)
        np.divide(rng.standard_exponential(w.shape), w, out=keys, where=w > 0)
        rank = np.argsort(np.argsort(keys, axis=1, kind="stable"), axis=1, kind="stable")
        selected[start:stop] = (rank < k[start:stop, None]) & (w > 0)
    return selected


def _corrupt_people(rng: _Rng, t: _Table, pools: _Pools, rates: ErrorRates) -> None:
    """Corrupt the duplicates ``t`` in place, grouped by field and error kind."""
    original = {f: t[f].copy() for f in PEOPLE_FIELDS}
    selected = _select_fields(rng, t, rates)
    plans: dict[str, tuple[IntArray, NDArray[np.str_]]] = {}
    for j, name in enumerate(PEOPLE_FIELDS):
        rows = np.flatnonzero(selected[:, j])
        kinds = _FIELD_KINDS[name]
        w = [rates.kind_weight(k) for k in kinds]
        if sum(w) > 0:
            chosen = np.asarray(kinds)[_draw(rng, _cdf(w), len(rows))]
        else:
            chosen = np.full(len(rows), "force")
        plans[name] = (rows, chosen)

    # Swapped names modify both fields; they take precedence over the other errors of either.
    g_rows, g_kind = plans["given_name"]
    s_rows, s_kind = plans["surname"]
    swapped = np.zeros(len(selected), dtype=np.bool_)
    swapped[g_rows[g_kind == "swap_names"]] = True
    swapped[s_rows[s_kind == "swap_names"]] = True
    swap = np.flatnonzero(swapped)
    given, surname = t["given_name"], t["surname"]
    given[swap], surname[swap] = surname[swap], given[swap].copy()
    for name in ("given_name", "surname"):
        rows, chosen = plans[name]
        keep = ~swapped[rows]
        plans[name] = (rows[keep], chosen[keep])

    for name in PEOPLE_FIELDS:
        rows, chosen = plans[name]
        col = t[name]
        for kind in dict.fromkeys(chosen.tolist()):
            sub = rows[chosen == kind]
            if name in _NUMERIC:
                col[sub] = _numeric_error(rng, name, col[sub], kind)
            elif kind == "missing":
                col[sub] = ""
            elif kind == "replace":
                _replace_string(rng, t, name, sub, pools)
            else:
                _apply_strings(rng, col, sub, _STRING_KINDS[kind])

    # A modified field must differ from its original: force the few that came out unchanged.
    for j, name in enumerate(PEOPLE_FIELDS):
        if name in ("given_name", "surname"):
            rows = np.flatnonzero(selected[:, j] | swapped)
        else:
            rows = np.flatnonzero(selected[:, j])
        same = rows[t[name][rows] == original[name][rows]]
        if len(same) == 0:
            continue
        if name == "date_of_birth":
            t[name][same] = _shift_days(t[name][same], np.ones(len(same), dtype=np.int64))
        elif name in _NUMERIC:
            t[name][same] = _wrong_digit(rng, t[name][same], 4 if name == "postcode" else None)
        elif name == "state":
            _replace_string(rng, t, name, same, pools)
        else:
            _apply_strings(rng, t[name], same, _force_change)


# --------------------------------------------------------------------------------------------
# Writing
# --------------------------------------------------------------------------------------------

_Formatter = Callable[[IntArray], list[str]]
_POSTCODE_TEXT: Final = _obj([f"{i:04d}" for i in range(10000)] + [""])


def _text(col: NDArray[Any]) -> _Formatter:
    return lambda idx: _strs(col[idx])


def _numbers(col: IntArray) -> _Formatter:
    def fmt(idx: IntArray) -> list[str]:
        values = col[idx]
        out = list(map(str, values.tolist()))
        for i in np.flatnonzero(values < 0).tolist():
            out[i] = ""
        return out

    return fmt


def _postcode_text(col: IntArray) -> _Formatter:
    return lambda idx: _strs(_POSTCODE_TEXT[np.where(col[idx] < 0, 10000, col[idx])])


def _ids(prefix: str, num: IntArray, dup: BoolArray) -> _Formatter:
    """Record ids: ``<prefix>-<i>-org`` for originals, ``<prefix>-<i>-dup-0`` for duplicates."""
    org, dup0 = f"{prefix}-{{}}-org".format, f"{prefix}-{{}}-dup-0".format

    def fmt(idx: IntArray) -> list[str]:
        nums, dups = num[idx], dup[idx]
        out = np.empty(len(idx), dtype=object)
        out[dups] = list(map(dup0, nums[dups].tolist()))
        out[~dups] = list(map(org, nums[~dups].tolist()))
        return _strs(out)

    return fmt


def _write_csv(path: Path, header: Sequence[str], columns: Sequence[_Formatter],
               order: IntArray) -> None:  # fmt: skip
    """Write the rows ``order`` of the columns, in chunks, atomically (temp file then rename)."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for start in range(0, len(order), _CHUNK):
            idx = order[start : start + _CHUNK]
            values = [col(idx) for col in columns]
            # Joining is much faster than the csv writer and gives the same bytes when no value
            # needs quoting (no delimiter, quote or line break): check, else use the writer.
            text = "\n".join(map(",".join, zip(*values, strict=True)))
            if (
                text.count(",") == len(idx) * (len(columns) - 1)
                and text.count("\n") == len(idx) - 1
                and '"' not in text
                and "\r" not in text
            ):
                fh.write(text + "\n")
            else:
                writer.writerows(zip(*values, strict=True))
    os.replace(tmp, path)


def _people_columns(t: _Table, num: IntArray, dup: BoolArray) -> list[_Formatter]:
    cols: list[_Formatter] = [_ids("rec", num, dup)]
    for name in PEOPLE_FIELDS:
        if name == "postcode":
            cols.append(_postcode_text(t[name]))
        elif name in _NUMERIC:
            cols.append(_numbers(t[name]))
        else:
            cols.append(_text(t[name]))
    return cols


def _check_args(n: int, duplicates: float) -> None:
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        raise ValueError(f"n must be a positive integer, not {n!r}")
    if not 0.0 <= duplicates <= 1.0:
        raise ValueError(f"duplicates must be within [0, 1], not {duplicates!r}")


def people(
    n: int,
    seed: int,
    out_dir: Path,
    *,
    duplicates: float = 1.0,
    errors: ErrorRates | None = None,
) -> GeneratedTask:
    """Write a Febrl-like person linkage task to ``out_dir``; return its files and sizes.

    ``people-a.csv`` holds ``n`` originals (``rec-<i>-org``, ``i`` in ``0..n-1``).
    ``people-b.csv`` holds ``n`` records: one corrupted duplicate (``rec-<i>-dup-0``) for a
    random share ``duplicates`` of the originals (see :class:`ErrorRates`), and fresh
    records (``rec-<j>-org``, ``j >= n``) that match nothing. Rows of both files are shuffled.
    ``people-gold.csv`` lists the true links (``rec_id_a,rec_id_b``, by original number).

    Values look like Febrl's: lower-case names, date of birth as ``YYYYMMDD`` (1910-2010),
    postcode as four digits consistent with the state (``0800`` in NT), 7-digit soc_sec_id,
    ``address_2`` often empty, and a few missing values in the originals too.
    The same ``(n, seed, duplicates, errors)`` always writes byte-identical files.
    """
    _check_args(n, duplicates)
    rates = errors if errors is not None else ErrorRates()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    pools = _people_pools(rng, n)
    a = _draw_people(rng, n, pools, rates)
    n_dup = round(n * duplicates)
    src = np.sort(rng.choice(n, size=n_dup, replace=False)).astype(np.int64)
    dups = _take(a, src)
    _corrupt_people(rng, dups, pools, rates)
    fresh = _draw_people(rng, n - n_dup, pools, rates)
    b = _concat(dups, fresh)
    num_a = np.arange(n, dtype=np.int64)
    num_b = np.concatenate([src, np.arange(n, 2 * n - n_dup, dtype=np.int64)])
    dup_b = np.arange(n) < n_dup
    order_a, order_b = rng.permutation(n), rng.permutation(n)

    paths = (out_dir / "people-a.csv", out_dir / "people-b.csv", out_dir / "people-gold.csv")
    _write_csv(paths[0], PEOPLE_COLUMNS, _people_columns(a, num_a, np.zeros(n, np.bool_)), order_a)
    del a
    _write_csv(paths[1], PEOPLE_COLUMNS, _people_columns(b, num_b, dup_b), order_b)
    del b, dups
    false = np.zeros(n_dup, dtype=np.bool_)
    gold = [_ids("rec", src, false), _ids("rec", src, ~false)]
    _write_csv(paths[2], ("rec_id_a", "rec_id_b"), gold, np.arange(n_dup))
    return GeneratedTask(*paths, n_align=n, n_target=n, n_links=n_dup)


# --------------------------------------------------------------------------------------------
# Places
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Style:
    prefixes: tuple[str, ...]  # a prefix ending in a letter is glued to the root
    prefix_p: float
    onsets: tuple[str, ...]
    vowels: tuple[str, ...]
    codas: tuple[str, ...]
    suffixes: tuple[str, ...]
    suffix_p: float


def _style(prefixes: str, prefix_p: float, onsets: str, vowels: str, codas: str,
           suffixes: str, suffix_p: float) -> _Style:  # fmt: skip
    return _Style(tuple(prefixes.split("|")), prefix_p, tuple(onsets.split()),
                  tuple(vowels.split()), tuple(codas.split("|")), tuple(suffixes.split("|")),
                  suffix_p)  # fmt: skip


_STYLES: Final[Mapping[str, _Style]] = {
    "fr": _style("Saint-|Sainte-|Le |La |Les |Mont-|Saint |Villeneuve-", 0.3,
                 "b c ch d f g gr l m n p r s t v br tr pl", "a e é i o ou au ai eu è ô",
                 "|n|r|l|s|t|nt|rt", "ville|court|ac|ay|y|ières|euil|mont|bourg|-sur-Mer|-en-Vallée|ès", 0.6),
    "de": _style("Bad |Sankt |Neu|Alt|Groß|Klein|Ober|Unter", 0.25,
                 "b br d f g h k l m n r s sch st w tr kr", "a e i o u ä ö ü ei au ie",
                 "|n|r|l|s|ch|ck|ng|tz|rg", "burg|dorf|heim|hausen|feld|stadt|bach|berg|ingen|rode|au|hof|wald|brück| am See", 0.8),
    "es": _style("San |Santa |Villa|La |El |Puerto |Torre", 0.3,
                 "b c d g l m n p r s t v ll ch br", "a e i o u ia ue ió á í ó",
                 "|n|r|l|s", "illa|ejo|ares|ón|ales|era|ero|ada|eña|iños| de la Sierra", 0.6),
    "it": _style("San |Santa |Castel|Monte|Borgo |Porto |Villa ", 0.3,
                 "b c d f g l m n p r s t v br tr", "a e i o u ia io à ò",
                 "|n|r|l|s", "ano|ello|ino|ona|ate|ago|engo|ella|ì", 0.6),
    "pt": _style("São |Santa |Vila |Porto |Nova ", 0.3, "b c d f g l m n p r s t v br",
                 "a e i o u ão ã é ô", "|n|r|l|s", "inha|eira|ão|ado|ela|ais|ó", 0.6),
    "en": _style("Saint |Port |Mount |Fort |North |South |East |West |New |Lake |Little |Great ",
                 0.25, "b br c d f g h k l m n p r s st t th w wh", "a e i o u ea ee oo ou ai",
                 "|n|r|l|s|ck|ll|m|th", "ton|field|bury|ford|ham|wood|ville|borough|port|mouth|chester|by|well|ridge|stead|worth|dale|land| Springs| Falls| Heights| Creek| Hill", 0.8),
    "nordic": _style("Nya |Stora |Lille |Nord|Sør", 0.2, "b d f g h k l m n r s st t v sk",
                     "a e i o u y å ä ö ø æ", "|n|r|l|s|k|t|nd",
                     "by|sund|strand|vik|holm|berg|torp|köping|stad|rup|havn|ås", 0.8),
    "nl": _style("Nieuw-|Oud-|Sint-|Den |Ter ", 0.2, "b d g h k l m n r s st v w z sch",
                 "a e i o u aa ee oo ui ij", "|n|r|l|s|k|t", "dam|dijk|hoven|wijk|burg|sum|ingen|horst|veen", 0.8),
}  # fmt: skip

# (country, style, lat, long, weight): anchors of the generated cities.
_ANCHORS: Final = (
    ("FR", "fr", 48.86, 2.35, 3), ("FR", "fr", 45.76, 4.84, 1), ("FR", "fr", 43.30, 5.37, 1),
    ("FR", "fr", 43.60, 1.44, 1), ("FR", "fr", 47.22, -1.55, 1), ("FR", "fr", 50.63, 3.06, 1),
    ("BE", "fr", 50.85, 4.35, 1), ("CH", "fr", 46.20, 6.14, 1), ("CA", "fr", 45.50, -73.57, 1),
    ("CA", "fr", 46.81, -71.21, 1), ("DE", "de", 52.52, 13.40, 2), ("DE", "de", 48.14, 11.58, 1),
    ("DE", "de", 50.94, 6.96, 1), ("DE", "de", 53.55, 9.99, 1), ("AT", "de", 48.21, 16.37, 1),
    ("CH", "de", 47.38, 8.54, 1), ("ES", "es", 40.42, -3.70, 2), ("ES", "es", 41.39, 2.17, 1),
    ("ES", "es", 37.39, -5.98, 1), ("MX", "es", 19.43, -99.13, 2), ("AR", "es", -34.60, -58.38, 1),
    ("CL", "es", -33.45, -70.67, 1), ("CO", "es", 4.71, -74.07, 1), ("IT", "it", 41.90, 12.50, 2),
    ("IT", "it", 45.46, 9.19, 1), ("IT", "it", 40.85, 14.27, 1), ("PT", "pt", 38.72, -9.14, 1),
    ("PT", "pt", 41.15, -8.61, 1), ("BR", "pt", -23.55, -46.63, 2), ("BR", "pt", -22.91, -43.17, 1),
    ("GB", "en", 51.51, -0.13, 3), ("GB", "en", 53.48, -2.24, 1), ("GB", "en", 55.95, -3.19, 1),
    ("IE", "en", 53.35, -6.26, 1), ("US", "en", 40.71, -74.01, 3), ("US", "en", 34.05, -118.24, 2),
    ("US", "en", 41.88, -87.63, 2), ("US", "en", 29.76, -95.37, 1), ("US", "en", 47.61, -122.33, 1),
    ("CA", "en", 43.65, -79.38, 1), ("AU", "en", -33.87, 151.21, 2), ("AU", "en", -37.81, 144.96, 2),
    ("AU", "en", -27.47, 153.03, 1), ("AU", "en", -31.95, 115.86, 1), ("NZ", "en", -36.85, 174.76, 1),
    ("ZA", "en", -26.20, 28.05, 1), ("SE", "nordic", 59.33, 18.07, 1), ("SE", "nordic", 57.71, 11.97, 1),
    ("NO", "nordic", 59.91, 10.75, 1), ("DK", "nordic", 55.68, 12.57, 1), ("NL", "nl", 52.37, 4.90, 1),
    ("NL", "nl", 51.92, 4.48, 1), ("BE", "nl", 51.22, 4.40, 1),
)  # fmt: skip

_KM_PER_DEG: Final = 111.195
_UNACCENT: Final = str.maketrans(
    {
        "é": "e", "è": "e", "ê": "e", "ë": "e", "à": "a", "â": "a", "ä": "a", "á": "a", "ã": "a",
        "å": "a", "ô": "o", "ö": "o", "ó": "o", "ò": "o", "ø": "o", "î": "i", "í": "i", "ì": "i",
        "ü": "u", "û": "u", "ú": "u", "ç": "c", "ñ": "n", "ß": "ss", "æ": "ae", "É": "E",
    }
)  # fmt: skip
_PLACE_ABBREV_RE: Final = re.compile(
    r"\b(Saint-|Saint |Sainte-|Sankt |Mount |Fort |Santa |San |Sint-|Port |North |South |Great )"
)
_PLACE_ABBREV: Final[Mapping[str, tuple[str, ...]]] = {
    "Saint-": ("St-", "St.-", "S.-"), "Saint ": ("St ", "St. "), "Sainte-": ("Ste-", "Ste."),
    "Sankt ": ("St. ", "St "), "Mount ": ("Mt ", "Mt. "), "Fort ": ("Ft ", "Ft. "),
    "Santa ": ("Sta. ", "Sta "), "San ": ("S. ",), "Sint-": ("St.-", "St-"), "Port ": ("Pt ",),
    "North ": ("N. ", "Nth "), "South ": ("S. ", "Sth "), "Great ": ("Gt ",),
}  # fmt: skip


def _place_variant(s: str, u: float, v: float, w: float) -> str:
    """A spelling variant of a place name: accents removed, Saint -> St, a typo..."""
    kinds: list[int] = []
    weights: list[float] = []
    if s.translate(_UNACCENT) != s:
        kinds.append(0)
        weights.append(3.0)
    if _PLACE_ABBREV_RE.search(s):
        kinds.append(1)
        weights.append(3.0)
    if "-" in s or " " in s:
        kinds.append(2)
        weights.append(1.0)
    kinds += [3, 4, 5, 6]
    weights += [1.5, 1.5, 1.0, 0.4]
    x = u * sum(weights)
    kind = kinds[-1]
    for k, wt in zip(kinds, weights, strict=True):
        if x < wt:
            kind = k
            break
        x -= wt
    if kind == 0:
        return s.translate(_UNACCENT)
    if kind == 1:
        m = _PLACE_ABBREV_RE.search(s)
        assert m is not None
        options = _PLACE_ABBREV[m.group()]
        return s[: m.start()] + options[int(v * len(options))] + s[m.end() :]
    if kind == 2:
        return s.replace("-", " ") if "-" in s else s.replace(" ", "-", 1)
    if kind == 3:
        return _typo(s, v, w, u)
    if kind == 4:
        return _edit(s, v, w, u)
    if kind == 5:
        return _phonetic(s, v, w, u)
    return s.upper() if v < 0.5 else s.lower()


def _place_names(rng: _Rng, style: _Style, m: int) -> ObjArray:
    """``m`` place names of one style: optional prefix, one or two syllables, optional suffix."""
    prefix = np.where(rng.random(m) < style.prefix_p, _pick(rng, style.prefixes, m), "")
    glued = np.array([p != "" and p[-1].isalpha() for p in prefix.tolist()], dtype=np.bool_)
    onset = _pick(rng, style.onsets, m)
    cap = _obj([o[:1].upper() + o[1:] for o in style.onsets])[rng.integers(0, len(style.onsets), m)]
    onset = np.where(glued, onset, cap)
    root = onset + _pick(rng, style.vowels, m) + _pick(rng, style.codas, m)
    two = rng.random(m) < 0.6
    root = root + np.where(two, _syllables(rng, m, style.onsets, style.vowels, ("",)), "")
    suffix = np.where(rng.random(m) < style.suffix_p, _pick(rng, style.suffixes, m), "")
    return prefix + root + suffix  # type: ignore[no-any-return]


@dataclass(frozen=True)
class _Cities:
    lat: FloatArray
    lon: FloatArray
    spread: FloatArray  # km
    country: ObjArray
    style: IntArray
    cdf: FloatArray


_STYLE_NAMES: Final = tuple(_STYLES)


def _offset(lat: FloatArray, lon: FloatArray, east_km: FloatArray,
            north_km: FloatArray) -> tuple[FloatArray, FloatArray]:  # fmt: skip
    new_lat = np.clip(lat + north_km / _KM_PER_DEG, -89.999, 89.999)
    coslat = np.maximum(np.cos(np.radians(new_lat)), 1e-6)
    new_lon = lon + east_km / (_KM_PER_DEG * coslat)
    return new_lat, (new_lon + 180.0) % 360.0 - 180.0


def _cities(rng: _Rng, n: int) -> _Cities:
    k = max(8, n // 150)
    anchor_w = np.array([a[4] for a in _ANCHORS], dtype=np.float64)
    which = _draw(rng, _cdf(anchor_w), k)
    a_lat = np.array([a[2] for a in _ANCHORS])[which]
    a_lon = np.array([a[3] for a in _ANCHORS])[which]
    dist = np.abs(rng.normal(0.0, 150.0, k))
    angle = rng.uniform(0.0, 2 * np.pi, k)
    lat, lon = _offset(a_lat, a_lon, dist * np.sin(angle), dist * np.cos(angle))
    country = _obj([a[0] for a in _ANCHORS])[which]
    style = np.array([_STYLE_NAMES.index(a[1]) for a in _ANCHORS], dtype=np.int64)[which]
    spread = 2.0 + 10.0 * rng.random(k)
    return _Cities(lat, lon, spread, country, style, _cdf(_zipf(k, 5.0, 0.8)))


def _draw_places(rng: _Rng, m: int, cities: _Cities) -> _Table:
    c = _draw(rng, cities.cdf, m)
    sigma = cities.spread[c]
    lat, lon = _offset(cities.lat[c], cities.lon[c], rng.normal(0.0, 1.0, m) * sigma,
                       rng.normal(0.0, 1.0, m) * sigma)  # fmt: skip
    names = np.empty(m, dtype=object)
    style = cities.style[c]
    for k, sname in enumerate(_STYLE_NAMES):
        rows = np.flatnonzero(style == k)
        names[rows] = _place_names(rng, _STYLES[sname], len(rows))
    population = np.maximum(np.exp(rng.normal(7.0, 1.6, m)), 10).astype(np.int64)
    return {"name": names, "country": cities.country[c], "lat": lat, "long": lon,
            "population": population}  # fmt: skip


def _corrupt_places(rng: _Rng, t: _Table, max_jitter_km: float) -> None:
    m = len(t["name"])
    dist = 0.1 + (max_jitter_km - 0.1) * rng.random(m) ** 2
    angle = rng.uniform(0.0, 2 * np.pi, m)
    t["lat"], t["long"] = _offset(t["lat"], t["long"], dist * np.sin(angle),
                                  dist * np.cos(angle))  # fmt: skip
    u = rng.random(m)
    named = np.flatnonzero(u < 0.7)
    _apply_strings(rng, t["name"], named, _place_variant)
    again = named[rng.random(len(named)) < 0.15]
    _apply_strings(rng, t["name"], again, _place_variant)
    pop = t["population"]
    u = rng.random(m)
    drift = np.maximum(np.rint(pop * (1.0 + rng.normal(0.0, 0.05, m))), 1).astype(np.int64)
    digits = np.maximum(_n_digits(pop) - 2, 0)
    rounded = np.maximum(np.rint(pop / 10.0**digits) * 10**digits, 1).astype(np.int64)
    t["population"] = np.where(
        u < 0.6, pop, np.where(u < 0.85, drift, np.where(u < 0.95, rounded, -1))
    )
    t["country"] = np.where(rng.random(m) < 0.02, "", t["country"]).astype(object)


def _coords(col: FloatArray) -> _Formatter:
    return lambda idx: [f"{x:.5f}" for x in col[idx].tolist()]


def _place_ids(num: IntArray, dup: BoolArray) -> _Formatter:
    return _ids("pl", num, dup)


def _places_columns(t: _Table, num: IntArray, dup: BoolArray) -> list[_Formatter]:
    return [_place_ids(num, dup), _text(t["name"]), _text(t["country"]), _coords(t["lat"]),
            _coords(t["long"]), _numbers(t["population"])]  # fmt: skip


def places(
    n: int,
    seed: int,
    out_dir: Path,
    *,
    duplicates: float = 1.0,
    max_jitter_km: float = 2.0,
) -> GeneratedTask:
    """Write a geographic linkage task to ``out_dir``; return its files and sizes.

    ``places-a.csv`` holds ``n`` places (``pl-<i>-org``) with ``id,name,country,lat,long,
    population``, clustered around generated cities (a few hundred metres to tens of
    kilometres apart) in several countries and naming styles (accents, Saint-, San, -burg...).
    ``places-b.csv`` holds a duplicate (``pl-<i>-dup-0``) of a random share ``duplicates`` of
    them, with coordinates moved by 100 m up to ``max_jitter_km`` (most under 1 km), spelling
    variants of most names (accents removed, Saint -> St, hyphens, typos, case) and a drifted,
    rounded or missing population; plus fresh places around the same cities. Rows are shuffled;
    ``places-gold.csv`` lists the true links (``id_a,id_b``). Deterministic by seed.
    """
    _check_args(n, duplicates)
    if not 0.1 < max_jitter_km <= 50.0:
        raise ValueError(f"max_jitter_km must be within (0.1, 50], not {max_jitter_km!r}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    cities = _cities(rng, n)
    a = _draw_places(rng, n, cities)
    n_dup = round(n * duplicates)
    src = np.sort(rng.choice(n, size=n_dup, replace=False)).astype(np.int64)
    dups = _take(a, src)
    _corrupt_places(rng, dups, max_jitter_km)
    b = _concat(dups, _draw_places(rng, n - n_dup, cities))
    num_b = np.concatenate([src, np.arange(n, 2 * n - n_dup, dtype=np.int64)])
    dup_b = np.arange(n) < n_dup
    order_a, order_b = rng.permutation(n), rng.permutation(n)

    paths = (out_dir / "places-a.csv", out_dir / "places-b.csv", out_dir / "places-gold.csv")
    no_dup = np.zeros(n, dtype=np.bool_)
    _write_csv(paths[0], PLACES_COLUMNS, _places_columns(a, np.arange(n), no_dup), order_a)
    _write_csv(paths[1], PLACES_COLUMNS, _places_columns(b, num_b, dup_b), order_b)
    false = np.zeros(n_dup, dtype=np.bool_)
    gold = [_place_ids(src, false), _place_ids(src, ~false)]
    _write_csv(paths[2], ("id_a", "id_b"), gold, np.arange(n_dup))
    return GeneratedTask(*paths, n_align=n, n_target=n, n_links=n_dup)


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def _positive(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """``generate {people,places} --size N --seed S --out DIR``: write a task, return 0.

    Returns 2 for an invalid command line (after argparse's message) and 1 when the files
    cannot be written.
    """
    parser = argparse.ArgumentParser(
        prog="engine generate",
        description="Write a deterministic Febrl-like linkage task: an align file, a target "
        "file and the gold links.",
    )
    parser.add_argument("kind", choices=("people", "places"), help="the kind of records")
    parser.add_argument("--size", type=_positive, required=True, help="records per file")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--duplicates", type=float, default=1.0,
                        help="share of the align records with a duplicate (default 1.0)")  # fmt: skip
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code) if isinstance(exc.code, int) else 2
    start = time.perf_counter()
    generate = people if args.kind == "people" else places
    try:
        task = generate(args.size, args.seed, args.out, duplicates=args.duplicates)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write {args.out}: {exc}", file=sys.stderr)
        return 1
    elapsed = time.perf_counter() - start
    print(
        f"{args.kind}: {task.n_align} + {task.n_target} records, {task.n_links} links "
        f"-> {task.align}, {task.target}, {task.gold} ({elapsed:.1f} s)"
    )
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
