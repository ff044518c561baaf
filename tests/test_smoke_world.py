from models.stages import Stage


def test_every_stage_is_reachable_through_the_workflow(world):
    for stage in Stage:
        assert world.task_at(stage).stage == stage
