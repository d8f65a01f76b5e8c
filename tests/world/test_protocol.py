"""The SPINE planning protocol: plan parsing, turn parsing and plan validation with feedback."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from prism.world.protocol import (
    ACTION_SIGNATURES,
    ACTIONS,
    RESPONSE_KEYS,
    Action,
    InvalidTurn,
    PlannerTurn,
    PlanSyntaxError,
    check_turn,
    first_turn,
    parse_plan,
    parse_turn,
    render_turn,
    validate_plan,
)
from prism.world.scene_graph import SceneGraph


def turn(plan: Any, **fields: Any) -> str:
    """A planner response with ``plan`` and sensible other keys."""
    data = {
        "primary_goal": "find the truck keys",
        "relevant_graph": ["pickup_truck_1", "road_2"],
        "reasoning": "The keys are likely in the truck.",
        "plan": plan,
    }
    data.update(fields)
    return json.dumps(data)


def without(graph: SceneGraph, *names: str) -> SceneGraph:
    """A partial view of ``graph`` with ``names`` removed (as the simulator hides nodes)."""
    partial = graph.copy()
    partial.graph.remove_nodes_from(names)
    return partial


def invalid(text: str, graph: SceneGraph) -> InvalidTurn:
    with pytest.raises(InvalidTurn) as info:
        check_turn(text, graph)
    return info.value


# ---------------------------------------------------------------------------- parse_plan
def test_parse_plan_reads_the_documented_form() -> None:
    assert parse_plan(
        "[goto(field_6), inspect(pickup_truck_1, are the keys inside?), answer(yes)]"
    ) == (
        Action("goto", ("field_6",)),
        Action("inspect", ("pickup_truck_1", "are the keys inside?")),
        Action("answer", ("yes",)),
    )


def test_parse_plan_keeps_commas_inside_answer_text() -> None:
    (step,) = parse_plan("[answer(Yes, the truck is at field_6, next to the shed.)]")
    assert step == Action("answer", ("Yes, the truck is at field_6, next to the shed.",))


def test_parse_plan_keeps_commas_inside_the_inspect_query() -> None:
    (step,) = parse_plan("[inspect(pickup_truck_1, keys, or a phone?)]")
    assert step.args == ("pickup_truck_1", "keys, or a phone?")


def test_parse_plan_keeps_parentheses_inside_answer_text() -> None:
    plan = parse_plan("[answer(The truck (pickup_truck_1) is at field_6 (by the road).), replan()]")
    assert plan == (
        Action("answer", ("The truck (pickup_truck_1) is at field_6 (by the road).",)),
        Action("replan", ()),
    )


def test_parse_plan_reads_an_unbalanced_answer_to_its_last_parenthesis() -> None:
    assert parse_plan("[answer(yes (it is at field_6)]") == (
        Action("answer", ("yes (it is at field_6",)),
    )


def test_parse_plan_unquotes_arguments() -> None:
    plan = parse_plan(
        '[goto(\'field_6\'), inspect("pickup_truck_1", "keys, maybe?"), answer("Yes, it is.")]'
    )
    assert plan == (
        Action("goto", ("field_6",)),
        Action("inspect", ("pickup_truck_1", "keys, maybe?")),
        Action("answer", ("Yes, it is.",)),
    )


def test_parse_plan_a_quoted_answer_may_hold_parentheses() -> None:
    (step,) = parse_plan('[answer("it is closed :( sorry")]')
    assert step.args == ("it is closed :( sorry",)


def test_parse_plan_a_lone_apostrophe_does_not_swallow_later_steps() -> None:
    plan = parse_plan("[inspect(pickup_truck_1, 'keys?), goto(road_2)]")
    assert [a.name for a in plan] == ["inspect", "goto"]
    assert plan[1] == Action("goto", ("road_2",))


def test_parse_plan_reads_a_list_of_step_strings() -> None:
    assert parse_plan(["goto(field_6)", "answer(yes, it is)"]) == (
        Action("goto", ("field_6",)),
        Action("answer", ("yes, it is",)),
    )


def test_parse_plan_without_brackets() -> None:
    assert parse_plan("goto(a) ; map_region(b)\n answer(c)") == (
        Action("goto", ("a",)),
        Action("map_region", ("b",)),
        Action("answer", ("c",)),
    )


@pytest.mark.parametrize(
    ("text", "radius"),
    [("10", 10.0), ("7.5", 7.5), ("7.5m", 7.5), ("'3'", 3.0), ("-2e1", -20.0)],
)
def test_parse_plan_explore_region_takes_a_number(text: str, radius: float) -> None:
    (step,) = parse_plan(f"[explore_region(field_6, {text})]")
    assert step == Action("explore_region", ("field_6", radius))
    assert isinstance(step.args[1], float)


def test_parse_plan_extend_map_takes_two_floats() -> None:
    (step,) = parse_plan("[extend_map(-3.5, 12)]")
    assert step == Action("extend_map", (-3.5, 12.0))
    assert all(isinstance(v, float) for v in step.args)


def test_parse_plan_replan_takes_no_arguments() -> None:
    assert parse_plan("[map_region(road_2), replan()]")[1] == Action("replan", ())
    with pytest.raises(PlanSyntaxError, match=r"replan\(\) takes no arguments"):
        parse_plan("[replan(now)]")


def test_action_renders_back_to_what_parses() -> None:
    plan = (
        Action("goto", ("road_2",)),
        Action("explore_region", ("road_2", 7.5)),
        Action("explore_region", ("road_2", 10.0)),
        Action("extend_map", (1.0, -2.25)),
        Action("inspect", ("pickup_truck_1", "keys, or a phone?")),
        Action("replan", ()),
        Action("answer", ("Yes (pickup_truck_1), at road_2.",)),
    )
    rendered = "[" + ", ".join(str(a) for a in plan) + "]"
    assert "explore_region(road_2, 10)" in rendered
    assert parse_plan(rendered) == plan


def test_action_target_is_the_node_argument() -> None:
    assert Action("inspect", ("shed_1", "tools?")).target == "shed_1"
    assert Action("explore_region", ("road_1", 5.0)).target == "road_1"
    assert Action("answer", ("road_1",)).target is None
    assert Action("extend_map", (1.0, 2.0)).target is None
    assert Action("replan", ()).target is None


@pytest.mark.parametrize(
    ("plan", "fragment"),
    [
        ("[]", "the plan is empty"),
        ("", "the plan is empty"),
        ("[goto(field_6)", "could not read a step"),
        ("[goto field_6]", "could not read a step"),
        ("[goto(field_6]", "no closing parenthesis"),
        ("[fly(field_6)]", "unknown action 'fly'"),
        ("[goto()]", "goto takes goto(region), got goto()"),
        ("[goto(road_1, road_2)]", "goto takes goto(region), got goto(road_1, road_2)"),
        ("[map_region(a, b)]", "map_region takes map_region(region)"),
        ("[inspect()]", "inspect takes inspect(object, text)"),
        ("[explore_region(road_1)]", "explore_region takes explore_region(region, number)"),
        ("[explore_region(road_1, 3, 4)]", "explore_region takes explore_region(region, number)"),
        ("[extend_map(1)]", "extend_map takes extend_map(number, number)"),
        ("[extend_map(1, 2, 3)]", "extend_map takes extend_map(number, number)"),
        ("[explore_region(road_1, far)]", "could not parse 'far' as a number"),
        ("[explore_region(road_1, nan)]", "could not parse 'nan' as a number"),
        ("[extend_map(north, 2)]", "could not parse 'north' as a number"),
        ("[extend_map(1, inf)]", "could not parse 'inf' as a number"),
        ("[answer()]", "answer() needs a text argument"),
        ("[clarify('')]", "clarify() needs a text argument"),
        ("[goto('')]", "missing its region argument"),
    ],
)
def test_parse_plan_rejects_malformed_steps(plan: str, fragment: str) -> None:
    with pytest.raises(PlanSyntaxError) as info:
        parse_plan(plan)
    assert fragment in str(info.value)


@pytest.mark.parametrize("plan", [{"steps": []}, 3, None, ["goto(a)", 3]])
def test_parse_plan_rejects_a_plan_that_is_not_a_string(plan: Any) -> None:
    with pytest.raises(PlanSyntaxError, match="'plan' must be a string"):
        parse_plan(plan)


def test_unknown_action_lists_the_valid_actions() -> None:
    with pytest.raises(PlanSyntaxError) as info:
        parse_plan("[navigate(road_1)]")
    assert all(name in str(info.value) for name in ACTIONS)


# ---------------------------------------------------------------------------- parse_turn
def test_parse_turn_reads_a_well_formed_turn() -> None:
    parsed = parse_turn(turn("[goto(road_2), answer(It is at road_2, by the truck.)]"))
    assert parsed.primary_goal == "find the truck keys"
    assert parsed.relevant_graph == ["pickup_truck_1", "road_2"]
    assert parsed.reasoning == "The keys are likely in the truck."
    assert parsed.plan[0] == Action("goto", ("road_2",))
    assert parsed.answer == "It is at road_2, by the truck."


def test_parse_turn_without_an_answer_step_has_no_answer() -> None:
    assert parse_turn(turn("[map_region(road_2)]")).answer is None


def test_parse_turn_strips_a_code_fence() -> None:
    text = "```json\n" + turn("[answer(yes)]") + "\n```"
    assert parse_turn(text).answer == "yes"


def test_render_turn_is_read_back_by_parse_turn() -> None:
    plan = [
        Action("inspect", ("shed_1", "tools, or a ladder?")),
        Action("answer", ("In (the) shed.",)),
    ]
    text = render_turn("find tools", ["shed_1"], "tools live in sheds", plan)
    assert list(json.loads(text)) == list(RESPONSE_KEYS)
    parsed = parse_turn(text)
    assert parsed.plan == tuple(plan)
    assert parsed.text == text


@pytest.mark.parametrize(
    "text",
    ["I will go to road_2.", "{'plan': 'goto(a)'}", "", "```json\n```", "1" * 5000, "[" * 100_000],
)
def test_not_json_is_rejected_with_the_expected_keys(text: str) -> None:
    with pytest.raises(InvalidTurn) as info:
        parse_turn(text)
    assert info.value.kind == "not_json"
    assert "not valid JSON" in info.value.feedback
    assert all(key in info.value.feedback for key in RESPONSE_KEYS)


@pytest.mark.parametrize("text", ["[1, 2]", '"plan"', "null", "42"])
def test_json_that_is_not_an_object_is_rejected(text: str) -> None:
    with pytest.raises(InvalidTurn) as info:
        parse_turn(text)
    assert info.value.kind == "not_json"
    assert "must be a JSON object" in info.value.feedback


def test_missing_keys_are_named() -> None:
    text = json.dumps({"primary_goal": "x", "plan": "[answer(yes)]"})
    with pytest.raises(InvalidTurn) as info:
        parse_turn(text)
    assert info.value.kind == "missing_keys"
    assert "relevant_graph, reasoning" in info.value.feedback
    assert "missing the key(s) relevant_graph, reasoning." in info.value.feedback


def test_unknown_action_feedback_lists_the_valid_actions(tiny_graph: SceneGraph) -> None:
    err = invalid(turn("[drive_to(road_2), answer(yes)]"), tiny_graph)
    assert err.kind == "unknown_action"
    assert "unknown action 'drive_to'" in err.feedback
    for name in ACTIONS:
        assert name in err.feedback


def test_unparsable_plan_feedback_says_why(tiny_graph: SceneGraph) -> None:
    err = invalid(turn("[explore_region(road_2, a bit)]"), tiny_graph)
    assert err.kind == "bad_plan"
    assert err.feedback.startswith("Your plan could not be parsed:")
    assert "could not parse 'a bit' as a number" in err.feedback
    assert "explore_region(region, number)" in err.feedback


def test_unparsable_extend_map_feedback_says_why(tiny_graph: SceneGraph) -> None:
    err = invalid(turn("[extend_map(ten, 5)]"), tiny_graph)
    assert err.kind == "bad_plan"
    assert "could not parse 'ten' as a number" in err.feedback
    assert "extend_map(number, number)" in err.feedback


def test_wrong_arity_feedback_shows_the_usage(tiny_graph: SceneGraph) -> None:
    err = invalid(turn("[goto(road_1, road_2)]"), tiny_graph)
    assert err.kind == "bad_plan"
    assert "goto takes goto(region)" in err.feedback


def test_invalid_turn_is_a_value_error_carrying_its_feedback() -> None:
    err = InvalidTurn("no_path", "go elsewhere")
    assert isinstance(err, ValueError)
    assert str(err) == err.feedback == "go elsewhere"


# ---------------------------------------------------------------------------- validation
def test_a_valid_plan_passes(tiny_graph: SceneGraph) -> None:
    parsed = check_turn(
        turn(
            "[goto(road_1), map_region(road_2), explore_region(field_1, 5), "
            "inspect(pickup_truck_1, keys?), extend_map(1, 2), clarify(which truck?), replan()]"
        ),
        tiny_graph,
    )
    assert isinstance(parsed, PlannerTurn)
    assert len(parsed.plan) == 7


def test_node_not_in_graph_suggests_replan(tiny_graph: SceneGraph) -> None:
    partial = without(tiny_graph, "pickup_truck_1")
    err = invalid(turn("[inspect(pickup_truck_1, keys?)]"), partial)
    assert err.kind == "unknown_node"
    assert "'pickup_truck_1' is not in the scene graph" in err.feedback
    assert "replan()" in err.feedback


def test_navigation_to_an_object_names_its_region(tiny_graph: SceneGraph) -> None:
    for action in ("goto", "map_region"):
        err = invalid(turn(f"[{action}(shed_1)]"), tiny_graph)
        assert err.kind == "navigate_to_object"
        assert "'shed_1' is an object" in err.feedback
        assert "Go to the region it is connected to, road_1." in err.feedback
    err = invalid(turn("[explore_region(cabin_1, 3)]"), tiny_graph)
    assert "connected to, island_1" in err.feedback


def test_inspect_on_a_region_suggests_map_region(tiny_graph: SceneGraph) -> None:
    err = invalid(turn("[inspect(road_2, any keys?)]"), tiny_graph)
    assert err.kind == "inspect_region"
    assert "'road_2' is a region" in err.feedback
    assert "map_region(road_2)" in err.feedback


def test_no_path_names_the_closest_pair_across_the_components(tiny_graph: SceneGraph) -> None:
    partial = without(tiny_graph, "bridge_1")  # the island is now cut off
    err = invalid(turn("[goto(island_1)]"), partial)
    assert err.kind == "no_path"
    assert "no known path from yard_1 to island_1" in err.feedback
    # road_2 (20, 0) is the reachable node nearest to the island (40, 0); field_1 is 22.4 m.
    assert "road_2 (reachable) and island_1, 20.0 m apart" in err.feedback
    assert "replan()" in err.feedback


def test_no_path_to_an_object_is_reported_for_its_region(tiny_graph: SceneGraph) -> None:
    partial = without(tiny_graph, "bridge_1")
    err = invalid(turn("[inspect(cabin_1, anyone inside?)]"), partial)
    assert err.kind == "no_path"
    assert "no known path from yard_1 to island_1" in err.feedback


def test_inspecting_an_object_attached_to_no_visible_region_has_no_path(
    tiny_graph: SceneGraph,
) -> None:
    partial = without(tiny_graph, "island_1")  # cabin_1 is known, its region is not
    err = invalid(turn("[inspect(cabin_1, anyone inside?)]"), partial)
    assert err.kind == "no_path"
    assert "to cabin_1" in err.feedback


def test_the_location_is_followed_through_the_plan(tiny_graph: SceneGraph) -> None:
    # Shortcut: the planner's view has two components and the robot starts on the island.
    partial = without(tiny_graph, "bridge_1")
    partial.robot_location = "island_1"
    validate_plan(parse_plan("[inspect(cabin_1, anyone?)]"), partial)
    with pytest.raises(InvalidTurn) as info:
        validate_plan(parse_plan("[goto(island_1), inspect(shed_1, tools?)]"), partial)
    assert "no known path from island_1 to road_1" in info.value.feedback

    # From the yard, after driving to road_2 the failing step is judged from road_2.
    partial.robot_location = "yard_1"
    with pytest.raises(InvalidTurn) as info:
        validate_plan(
            parse_plan("[goto(road_2), inspect(pickup_truck_1, keys?), goto(island_1)]"), partial
        )
    assert "no known path from road_2 to island_1" in info.value.feedback


def test_inspect_moves_the_robot_in_validation_too(tiny_graph: SceneGraph) -> None:
    partial = without(tiny_graph, "bridge_1")
    with pytest.raises(InvalidTurn) as info:
        validate_plan(parse_plan("[inspect(internet_tower_1, why?), goto(island_1)]"), partial)
    assert "no known path from field_1 to island_1" in info.value.feedback


def test_validation_reports_the_first_bad_step(tiny_graph: SceneGraph) -> None:
    err = invalid(
        turn("[goto(road_2), inspect(road_1, x), goto(shed_1), goto(moon_1)]"), tiny_graph
    )
    assert err.kind == "inspect_region"


def test_first_turn_holds_task_advice_and_graph(tiny_graph: SceneGraph) -> None:
    text = first_turn("  Where is the truck?  ", tiny_graph)
    assert text.startswith("task: Where is the truck?\n")
    head, graph_json = text.split("Scene graph:", 1)
    assert "map or explore" in head
    assert SceneGraph.from_spine(json.loads(graph_json)).to_spine() == tiny_graph.to_spine()


# ---------------------------------------------------------------------------- properties
PLAN_ALPHABET = "goto(map_regin,expl)[]'\" answer12.5_-inspectreplanxtd\n;"


@given(st.one_of(st.text(), st.text(alphabet=PLAN_ALPHABET)))
def test_parse_plan_never_crashes_on_text(text: str) -> None:
    try:
        plan = parse_plan(text)
    except PlanSyntaxError:
        return
    assert plan
    for action in plan:
        assert action.name in ACTION_SIGNATURES


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=12,
)


@given(st.one_of(st.lists(st.text()), JSON_VALUES))
def test_parse_plan_never_crashes_on_json_values(plan: Any) -> None:
    with contextlib.suppress(PlanSyntaxError):
        parse_plan(plan)


@given(
    st.one_of(
        st.text(),
        JSON_VALUES.map(json.dumps),
        st.fixed_dictionaries(
            {key: JSON_VALUES for key in RESPONSE_KEYS},
            optional={"extra": JSON_VALUES},
        ).map(json.dumps),
        st.fixed_dictionaries(
            {"primary_goal": st.text(), "relevant_graph": JSON_VALUES, "reasoning": st.text()},
            optional={"plan": st.text(alphabet=PLAN_ALPHABET)},
        ).map(json.dumps),
    )
)
def test_parse_turn_never_crashes(text: str) -> None:
    try:
        parsed = parse_turn(text)
    except InvalidTurn as err:
        assert err.kind in {"not_json", "missing_keys", "unknown_action", "bad_plan"}
        assert err.feedback
        return
    assert parsed.plan


NODE_ARGS = st.sampled_from(
    [
        "yard_1",
        "road_1",
        "road_2",
        "field_1",
        "bridge_1",
        "island_1",
        "shed_1",
        "pickup_truck_1",
        "cabin_1",
        "moon_1",
        "'road_2'",
    ]
)
FREE_ARGS = st.one_of(
    NODE_ARGS,
    st.text(alphabet="abc ,.?()'1-", max_size=12),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-100, 100).map(str),
)
STEPS = st.builds(
    lambda name, args: f"{name}({', '.join(args)})",
    st.one_of(st.sampled_from(ACTIONS), st.sampled_from(["fly", "goto_region", "Goto", "scan"])),
    st.lists(FREE_ARGS, max_size=3),
) | st.builds(lambda region: f"goto({region})", NODE_ARGS)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(STEPS, min_size=1, max_size=5), st.booleans())
def test_check_turn_accepts_only_plans_that_fit_the_graph(
    shared_tiny_graph: SceneGraph, steps: list[str], as_list: bool
) -> None:
    partial = without(shared_tiny_graph, "bridge_1")  # two components: no_path is possible
    plan: Any = steps if as_list else "[" + ", ".join(steps) + "]"
    try:
        parsed = check_turn(turn(plan), partial)
    except InvalidTurn as err:
        assert err.kind in {
            "unknown_action",
            "bad_plan",
            "unknown_node",
            "navigate_to_object",
            "inspect_region",
            "no_path",
        }
        return
    location = partial.robot_location
    for action in parsed.plan:
        target = action.target
        if target is None:
            continue
        wanted = ACTION_SIGNATURES[action.name][0]
        assert partial.is_region(target) if wanted == "region" else partial.is_object(target)
        goal = target if partial.is_region(target) else partial.region_of(target)
        assert goal is not None and partial.region_path(location, goal) is not None
        location = goal
