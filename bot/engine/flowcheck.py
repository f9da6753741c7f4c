"""Static checks of flow definitions: every goto lands on a state, every state can be reached."""
from __future__ import annotations

from typing import Mapping

from bot.engine.flow import Flow, target


class FlowError(ValueError):
    """A flow definition is inconsistent; the message names the flow, the state and the reason."""

    def __init__(self, flow: str, state: str, reason: str) -> None:
        super().__init__(f"flow '{flow}', state '{state}': {reason}")
        self.flow, self.state, self.reason = flow, state, reason


def check_flows(flows: Mapping[str, Flow]) -> None:
    for flow in flows.values():
        _check(flow, flows)


def _check(flow: Flow, flows: Mapping[str, Flow]) -> None:
    if flow.start not in flow.states:
        raise FlowError(flow.name, flow.start, "the start state does not exist")
    for name, state in flow.states.items():
        for goto in state.exits:
            other, dest = target(goto, flow.name)
            if other not in flows:
                raise FlowError(flow.name, name, f"goes to unknown flow '{other}'")
            if dest and dest not in flows[other].states:
                raise FlowError(flow.name, name, f"goes to unknown state '{goto}'")
    for name in flow.entries:
        if name not in flow.states:
            raise FlowError(flow.name, name, "the entry state does not exist")
    seen, todo = {flow.start, *flow.entries}, [flow.start, *flow.entries]
    while todo:
        for goto in flow.states[todo.pop()].exits:
            other, dest = target(goto, flow.name)
            dest = dest or flow.start
            if other == flow.name and dest not in seen:
                seen.add(dest)
                todo.append(dest)
    unreachable = sorted(set(flow.states) - seen)
    if unreachable:
        raise FlowError(flow.name, unreachable[0], f"unreachable from '{flow.start}'")
