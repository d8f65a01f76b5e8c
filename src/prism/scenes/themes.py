"""Vocabularies of the procedural scene generator: themes, their regions and their objects.

Each object kind says how people refer to it (``words``), what it can be used for
(``affordances``, for "find me something I can ..."), what is usually kept in it (``holds``, for
"where are ... likely to be?") and which outage its failure explains (``outage``, for "... is
down. Why?"). Descriptions are hidden from the planner until it inspects or maps the node.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class ObjectKind:
    """A kind of object, e.g. ``pickup_truck``; nodes are named ``pickup_truck_1``, ..."""

    name: str
    words: tuple[str, ...]
    affordances: tuple[str, ...] = ()
    holds: tuple[str, ...] = ()
    outage: str = ""
    states: tuple[str, ...] = ("",)
    damageable: bool = True


@dataclass(frozen=True)
class RegionKind:
    """A kind of region, e.g. ``field``; ``crossable`` ones (bridges, fords) get "can I cross"
    questions and a hidden damaged / not damaged state."""

    name: str
    words: tuple[str, ...]
    states: tuple[str, ...] = ("",)
    crossable: bool = False


@dataclass(frozen=True)
class Theme:
    """A kind of scene: what a robot would find on a farm, in a port, ..."""

    name: str
    summary: str
    regions: tuple[RegionKind, ...]
    objects: tuple[ObjectKind, ...]


def _obj(name: str, *words: str, **kwargs: object) -> ObjectKind:
    return ObjectKind(name=name, words=words or (name.replace("_", " "),), **kwargs)  # type: ignore[arg-type]


def _reg(name: str, *words: str, **kwargs: object) -> RegionKind:
    return RegionKind(name=name, words=words or (name.replace("_", " "),), **kwargs)  # type: ignore[arg-type]


_BRIDGE = _reg("bridge", "bridge", crossable=True)
_TRUCK = _obj(
    "pickup_truck",
    "truck",
    "pickup truck",
    affordances=("drive", "haul hay bales with"),
    holds=("keys",),
    states=("has keys in the ignition", "parked, doors unlocked", "low on fuel"),
)
_CABIN = _obj(
    "cabin",
    "cabin",
    affordances=("stay in for the night", "shelter in from the rain"),
    states=("door unlocked, beds inside", "lights on", "empty"),
    damageable=False,
)
_SHED = _obj("shed", "shed", holds=("tools", "a shovel"), states=("full of tools", "padlocked"))
_TOWER = _obj(
    "internet_tower",
    "internet tower",
    "cell tower",
    outage="communications are down",
    states=("antenna intact",),
)
_POLE = _obj("light_pole", "light pole", "lamp post", outage="the lights are out")
_GENERATOR = _obj(
    "generator",
    "generator",
    affordances=("get electricity from",),
    outage="the power is out",
    states=("fuel tank half full",),
)

THEMES: tuple[Theme, ...] = (
    Theme(
        "farm",
        "a working farm with fields, a barnyard, dirt roads and a creek crossed by a bridge",
        regions=(
            _reg("field"),
            _reg("dirt_road", "dirt road"),
            _reg("barnyard"),
            _reg("orchard"),
            _reg("pasture"),
            _reg("creek_bank", "creek bank"),
            _BRIDGE,
        ),
        objects=(
            _TRUCK,
            _CABIN,
            _SHED,
            _TOWER,
            _POLE,
            _obj("tractor", "tractor", affordances=("plough the field with", "drive")),
            _obj("barn", "barn", holds=("hay", "animal feed"), states=("doors open",)),
            _obj("grain_silo", "silo", "grain silo", affordances=("store grain in",)),
            _obj("water_pump", "water pump", "pump", outage="the troughs have no water"),
            _obj("windmill", "windmill", outage="the pump is not pumping"),
            _obj("scarecrow", "scarecrow", damageable=True),
            _obj("sail_boat", "boat", "sailboat", affordances=("cross the creek in",)),
        ),
    ),
    Theme(
        "office_park",
        "a semi-urban office park with parking lots, lawns, walkways and office buildings",
        regions=(
            _reg("parking_lot", "parking lot"),
            _reg("lawn"),
            _reg("walkway"),
            _reg("road"),
            _reg("plaza"),
            _reg("loading_dock", "loading dock"),
            _reg("footbridge", "footbridge", crossable=True),
        ),
        objects=(
            _POLE,
            _TOWER,
            _GENERATOR,
            _obj(
                "office_building",
                "office building",
                "office",
                affordances=("work in", "get out of the rain in"),
                states=("lobby open", "badge access only"),
            ),
            _obj(
                "sedan",
                "car",
                "sedan",
                affordances=("drive",),
                holds=("keys",),
                states=("has keys", "locked"),
            ),
            _obj("delivery_van", "van", "delivery van", affordances=("drive", "move boxes with")),
            _obj("bench", "bench", affordances=("sit on",), damageable=False),
            _obj("vending_machine", "vending machine", affordances=("buy a snack from",)),
            _obj("security_booth", "security booth", "guard booth", holds=("keys", "a radio")),
            _obj(
                "fire_hydrant",
                "fire hydrant",
                "hydrant",
                affordances=("get water for a fire from",),
            ),
            _obj("transformer_box", "transformer", outage="the building has no power"),
        ),
    ),
    Theme(
        "port",
        "a cargo port with docks, container yards, cranes and a harbour road",
        regions=(
            _reg("dock"),
            _reg("container_yard", "container yard"),
            _reg("pier"),
            _reg("harbour_road", "harbour road"),
            _reg("quay"),
            _reg("warehouse_lot", "warehouse lot"),
            _reg("swing_bridge", "swing bridge", "bridge", crossable=True),
        ),
        objects=(
            _TOWER,
            _POLE,
            _obj(
                "crane",
                "crane",
                affordances=("lift a container with",),
                outage="loading has stopped",
            ),
            _obj(
                "container",
                "container",
                "shipping container",
                holds=("cargo",),
                states=("sealed", "open, empty"),
            ),
            _obj(
                "tug_boat",
                "tugboat",
                "tug boat",
                "boat",
                affordances=("tow a ship with", "cross the harbour in"),
            ),
            _obj("forklift", "forklift", affordances=("move pallets with", "drive")),
            _obj(
                "warehouse",
                "warehouse",
                holds=("pallets", "spare parts"),
                affordances=("store cargo in",),
            ),
            _obj("fuel_tank", "fuel tank", holds=("diesel",), outage="the boats cannot refuel"),
            _obj(
                "life_buoy",
                "life buoy",
                "life ring",
                affordances=("rescue someone in the water with",),
            ),
            _obj("harbour_office", "harbour office", affordances=("get a permit in",)),
        ),
    ),
    Theme(
        "campus",
        "a university campus with quads, libraries, labs, paths and a sports field",
        regions=(
            _reg("quad"),
            _reg("path"),
            _reg("sports_field", "sports field"),
            _reg("courtyard"),
            _reg("parking_lot", "parking lot"),
            _reg("garden"),
            _reg("footbridge", "footbridge", crossable=True),
        ),
        objects=(
            _POLE,
            _TOWER,
            _GENERATOR,
            _obj(
                "library",
                "library",
                affordances=("study in", "borrow a book from"),
                holds=("books",),
            ),
            _obj("lab_building", "lab", "laboratory", holds=("microscopes", "chemicals")),
            _obj(
                "dormitory", "dorm", "dormitory", affordances=("stay in for the night", "sleep in")
            ),
            _obj("bike_rack", "bike rack", holds=("bicycles",), damageable=False),
            _obj("bicycle", "bike", "bicycle", affordances=("ride",)),
            _obj(
                "cafeteria",
                "cafeteria",
                "cafe",
                affordances=("eat lunch in", "get coffee in"),
                holds=("food",),
            ),
            _obj("wifi_router", "wifi router", "router", outage="the wifi is down"),
            _obj("maintenance_shed", "maintenance shed", "shed", holds=("tools", "a ladder")),
        ),
    ),
    Theme(
        "disaster_site",
        "a neighbourhood after a storm: blocked streets, damaged houses, a shelter and a river bridge",
        regions=(
            _reg("street"),
            _reg("intersection"),
            _reg("yard"),
            _reg("riverbank"),
            _reg("collapsed_area", "collapsed area"),
            _reg("staging_area", "staging area"),
            _BRIDGE,
        ),
        objects=(
            _POLE,
            _TOWER,
            _GENERATOR,
            _obj(
                "house",
                "house",
                affordances=("shelter in",),
                states=("roof torn off", "windows broken", "intact"),
            ),
            _obj(
                "ambulance",
                "ambulance",
                affordances=("take an injured person to hospital in", "drive"),
            ),
            _obj(
                "fallen_tree",
                "fallen tree",
                "tree",
                states=("blocking the street",),
                damageable=False,
            ),
            _obj(
                "shelter_tent",
                "shelter tent",
                "tent",
                affordances=("stay in for the night",),
                holds=("blankets",),
            ),
            _obj(
                "supply_crate", "supply crate", "crate", holds=("water bottles", "first aid kits")
            ),
            _obj("power_line", "power line", outage="the power is out"),
            _obj("water_main", "water main", outage="the taps have no water"),
            _obj(
                "rescue_boat", "rescue boat", "boat", affordances=("cross the flooded street in",)
            ),
        ),
    ),
    Theme(
        "forest_trail",
        "a forest with trails, a ranger station, a lake, campsites and a footbridge over a stream",
        regions=(
            _reg("trail"),
            _reg("clearing"),
            _reg("campsite"),
            _reg("lakeshore"),
            _reg("ridge"),
            _reg("trailhead"),
            _reg("footbridge", "footbridge", "bridge", crossable=True),
        ),
        objects=(
            _TOWER,
            _CABIN,
            _obj(
                "ranger_station",
                "ranger station",
                holds=("maps", "a first aid kit"),
                affordances=("ask for directions at",),
            ),
            _obj("canoe", "canoe", "boat", affordances=("paddle across the lake in",)),
            _obj("fire_pit", "fire pit", affordances=("cook dinner on",), damageable=False),
            _obj(
                "picnic_table",
                "picnic table",
                affordances=("eat lunch at", "sit at"),
                damageable=False,
            ),
            _obj(
                "lookout_tower", "lookout tower", affordances=("climb to get a better view from",)
            ),
            _obj("tool_shed", "tool shed", "shed", holds=("tools", "an axe")),
            _obj("atv", "atv", "quad bike", affordances=("drive", "ride")),
            _obj("radio_repeater", "radio repeater", "repeater", outage="the radios are silent"),
        ),
    ),
    Theme(
        "construction_site",
        "a construction site with a site road, foundations, material yards and a site office",
        regions=(
            _reg("site_road", "site road"),
            _reg("foundation_pit", "foundation pit"),
            _reg("material_yard", "material yard"),
            _reg("gate_area", "gate area"),
            _reg("scaffold_zone", "scaffold zone"),
            _reg("temporary_bridge", "temporary bridge", "bridge", crossable=True),
        ),
        objects=(
            _POLE,
            _GENERATOR,
            _SHED,
            _obj("excavator", "excavator", "digger", affordances=("dig a trench with", "drive")),
            _obj(
                "dump_truck",
                "dump truck",
                "truck",
                affordances=("haul gravel with", "drive"),
                holds=("keys",),
            ),
            _obj(
                "site_office",
                "site office",
                affordances=("look at the blueprints in",),
                holds=("blueprints", "keys"),
            ),
            _obj("cement_mixer", "cement mixer", "mixer", affordances=("mix concrete with",)),
            _obj(
                "tower_crane",
                "tower crane",
                "crane",
                affordances=("lift steel beams with",),
                outage="lifting has stopped",
            ),
            _obj("portable_toilet", "portable toilet", "toilet", damageable=False),
            _obj("water_tank", "water tank", holds=("water",), outage="the mixer has no water"),
        ),
    ),
    Theme(
        "suburb",
        "a suburban neighbourhood with streets, driveways, backyards, a park and a school",
        regions=(
            _reg("street"),
            _reg("driveway"),
            _reg("backyard"),
            _reg("park"),
            _reg("sidewalk"),
            _reg("school_yard", "school yard"),
            _reg("culvert_bridge", "culvert bridge", "bridge", crossable=True),
        ),
        objects=(
            _POLE,
            _TOWER,
            _obj("garage", "garage", holds=("tools", "a lawn mower"), states=("door open",)),
            _obj(
                "minivan",
                "minivan",
                "car",
                affordances=("drive",),
                holds=("keys",),
                states=("has keys", "locked"),
            ),
            _obj("mailbox", "mailbox", holds=("letters",), damageable=False),
            _obj(
                "playground", "playground", affordances=("let the kids play in",), damageable=False
            ),
            _obj("school", "school", affordances=("vote in",), holds=("books",)),
            _obj("treehouse", "treehouse", affordances=("hide in",)),
            _obj("doghouse", "doghouse", "dog house", holds=("the dog",), damageable=False),
            _obj("cable_box", "cable box", outage="the internet is down"),
        ),
    ),
)


def be(phrase: str) -> str:
    """The verb that agrees with ``phrase``: "tools" are, "a shovel" / "water" is."""
    plural = phrase.endswith("s") and not phrase.startswith(("a ", "an ", "the "))
    return "are" if plural else "is"


def with_article(word: str) -> str:
    """``word`` with its indefinite article: "a boat", "an atv"."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def vocabulary() -> dict[str, ObjectKind | RegionKind]:
    """Every object and region kind of every theme, by node base name (``pickup_truck``)."""
    kinds: dict[str, ObjectKind | RegionKind] = {}
    for theme in THEMES:
        for kind in (*theme.regions, *theme.objects):
            known = kinds.get(kind.name)
            # Themes may call the same kind differently ("footbridge" / "bridge"): keep every word.
            kinds[kind.name] = (
                kind
                if known is None
                else replace(known, words=tuple(dict.fromkeys((*known.words, *kind.words))))
            )
    return kinds
