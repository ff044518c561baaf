"""What a form suggests for a person field: the task's department first, never everyone."""

from models.directory import active_people_with
from models.people import Role


def test_suggestions_are_the_departments_active_people_of_that_role_and_bounded(world):
    elsewhere = world.person("钱进", Role.OFFICER)
    elsewhere.department_id = world.support.id
    gone = world.person("吴退", Role.OFFICER)
    gone.active = False
    for n in range(5):
        world.person(f"郑{n}号", Role.OFFICER)
    world.session.flush()

    near = active_people_with(world.session, Role.OFFICER, department_id=world.department.id)
    names = [name for _, name in near]
    assert "李明" in names and "钱进" not in names and "吴退" not in names
    assert len(names) == 6  # 李明 and the five 郑
    assert dict(near)[world.officer.email] == "李明"  # offered by e-mail, as the form takes it

    everyone = [name for _, name in active_people_with(world.session, Role.OFFICER)]
    assert "钱进" in everyone and len(everyone) == 7
    assert len(active_people_with(world.session, Role.OFFICER, limit=3)) == 3
    assert [n for _, n in active_people_with(world.session, Role.LEADER)] == sorted(
        ["张伟", "陈静"]
    )
