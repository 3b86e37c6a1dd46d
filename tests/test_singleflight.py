"""l4d2site.singleflight: identical questions asked together share one answer."""

import asyncio

import pytest

from l4d2site import singleflight


class Counted:
    def __init__(self, outcome="answer"):
        self.calls = 0
        self.release = asyncio.Event()
        self.outcome = outcome

    async def __call__(self):
        self.calls += 1
        await self.release.wait()
        if isinstance(self.outcome, Exception):
            raise self.outcome
        return self.outcome


async def test_questions_asked_while_one_is_in_flight_share_its_answer():
    call = Counted()
    askers = [asyncio.create_task(singleflight.shared("k", call)) for _ in range(5)]
    await asyncio.sleep(0)
    call.release.set()
    assert await asyncio.gather(*askers) == ["answer"] * 5
    assert call.calls == 1


async def test_a_question_asked_after_the_answer_is_out_is_asked_again():
    call = Counted()
    call.release.set()
    await singleflight.shared("k", call)
    await singleflight.shared("k", call)
    assert call.calls == 2


async def test_different_keys_are_different_questions():
    call = Counted()
    call.release.set()
    await asyncio.gather(singleflight.shared("a", call), singleflight.shared("b", call))
    assert call.calls == 2


async def test_one_asker_giving_up_does_not_cancel_the_others_answer():
    call = Counted()
    leaving, staying = (asyncio.create_task(singleflight.shared("k", call)) for _ in range(2))
    await asyncio.sleep(0)
    leaving.cancel()
    await asyncio.sleep(0)
    call.release.set()
    assert await staying == "answer"
    assert leaving.cancelled()


async def test_an_error_reaches_every_asker():
    call = Counted(LookupError("no such job"))
    askers = [asyncio.create_task(singleflight.shared("k", call)) for _ in range(3)]
    await asyncio.sleep(0)
    call.release.set()
    for asker in askers:
        with pytest.raises(LookupError):
            await asker
    assert call.calls == 1
