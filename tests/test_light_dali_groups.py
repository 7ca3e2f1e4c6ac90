"""A step's commands to DALI groups and the broadcast: the pure plan, then the driver on python-dali's fake bus."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge_agent.lighting.drivers.dali_curve import arc_level
from edge_agent.lighting.drivers.dali_groups import plan
from tests.test_light_dali import Line

LUMS = [f"l{i}" for i in range(6)]
COMMANDS = st.sampled_from([(0.0, 0.0), (50.0, 0.0), (50.0, 8.0), (100.0, 2.0)])


@given(st.dictionaries(st.sampled_from(LUMS), COMMANDS),
       st.dictionaries(st.integers(0, 15), st.frozensets(st.sampled_from(LUMS), min_size=1), max_size=5),
       st.booleans())
def test_a_shared_frame_only_ever_carries_what_each_of_its_gear_was_told(
        pending: dict[str, tuple[float, float]], groups: dict[int, frozenset[str]], broadcast: bool) -> None:
    shared, alone = plan(pending, groups, frozenset(LUMS) if broadcast else frozenset())
    sent: dict[str, tuple[float, float]] = dict(alone)
    for frame in shared:
        obeying = frozenset(LUMS) if frame.target is None else groups[frame.target]
        assert frame.luminaires == obeying  # every gear that obeys the frame...
        for lum in obeying:
            assert pending[lum] == frame.command  # ...was told exactly that
            assert lum not in sent  # and is commanded once
            sent[lum] = frame.command
    assert sent == pending


def test_the_largest_group_goes_first_and_a_mixed_group_is_split() -> None:
    pending = {"l0": (50.0, 0.0), "l1": (50.0, 0.0), "l2": (50.0, 0.0), "l3": (30.0, 0.0)}
    groups = {0: frozenset({"l0", "l1"}), 1: frozenset({"l0", "l1", "l2"}), 2: frozenset({"l2", "l3"})}
    shared, alone = plan(pending, groups, frozenset())
    assert [(f.target, sorted(f.luminaires)) for f in shared] == [(1, ["l0", "l1", "l2"])]
    assert alone == {"l3": (30.0, 0.0)}


def test_a_step_sends_one_frame_per_group_and_the_rest_alone() -> None:
    line = Line(5, groups={0: {0, 1, 2, 3}})
    before = line.bus.frames.forward
    with line.driver.batch():
        for lum in ("l0", "l1", "l2", "l3"):
            line.driver.set_level(lum, 50.0)
        line.driver.set_level("l4", 30.0)
    assert line.bus.frames.forward - before == 2  # one DAPC to group 0, one to short address 4
    assert [g.level for g in line.bus.gear] == [arc_level(50.0)] * 4 + [arc_level(30.0)]
    assert line.driver.stats.shared_frames == 1


def test_the_whole_line_told_the_same_gets_one_broadcast() -> None:
    line = Line(5)
    before = line.bus.frames.forward
    with line.driver.batch():
        for lum in line.driver.luminaires():
            line.driver.set_level(lum, 70.0, ramp_s=8.0)
    assert line.bus.frames.forward - before == 4  # DTR0, SET FADE TIME twice, DAPC: to every gear at once
    assert all(g.level == arc_level(70.0) and g.fade_code == 8 for g in line.bus.gear)


def test_a_group_shared_with_gear_the_box_does_not_drive_is_never_used() -> None:
    line = Line(4, lums=3, groups={0: {0, 1, 2, 3}})  # gear 3 is on the line, in group 0, in no luminaire
    before = line.bus.frames.forward
    with line.driver.batch():
        for lum in line.driver.luminaires():
            line.driver.set_level(lum, 50.0)
    assert line.bus.frames.forward - before == 3  # one by one: neither group 0 nor the broadcast
    assert line.gear(3).level == 0  # the gear nobody commanded kept its level


def test_commands_outside_a_batch_go_out_at_once() -> None:
    line = Line(2, groups={0: {0, 1}})
    line.driver.set_level("l0", 50.0)
    assert line.gear(0).level == arc_level(50.0) and line.gear(1).level == 0


def test_an_interface_lost_while_a_batch_is_sent_takes_the_line_down() -> None:
    line = Line(3)
    with line.driver.batch():
        for lum in line.driver.luminaires():
            line.driver.set_level(lum, 50.0)
        line.bus.unplugged = True
    assert not line.driver.bus_up and line.driver.stats.bus_errors == 1
