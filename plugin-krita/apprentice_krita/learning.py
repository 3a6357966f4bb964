"""Learn my style: the daemon's Personalize call, from the docker.

The daemon does the learning (from the sessions it recorded; the plug-in sends nothing but the
request) in the background at low priority, streaming its progress, and ends with the new model's
name; the plug-in then paints Continue with that model. Cancel closes the stream, which stops the
daemon at its next step; learning again resumes where it stopped.
"""

import threading

from .client import RpcError


class LearnRun:
    def __init__(self, client, steps=0, name="", on_change=None):
        self.client = client
        self.request = {"steps": int(steps), "name": name}
        self.on_change = on_change or (lambda: None)
        self.step = self.steps = 0
        self.loss = None
        self.seconds_left = None
        self.sessions = self.held_out = self.ops = 0
        self.resumed = False
        self.done = None  # PersonalizeDone: model, loss_before, loss_after, sessions, held_out
        self.error = None
        self.cancelled = False
        self.finished = False
        self._stream = None

    def start(self):
        threading.Thread(target=self._receive, name="apprentice-learn", daemon=True).start()

    def cancel(self):
        if self.finished:
            return
        self.cancelled = True
        stream = self._stream
        if stream is not None:
            stream.close()
        self._finish(None)

    def _receive(self):
        error = None
        try:
            with self.client.personalize(self.request) as stream:
                self._stream = stream
                for event in stream:
                    if self.cancelled:
                        return
                    if "progress" in event:
                        p = event["progress"]
                        self.step, self.steps = int(p.get("step", 0)), int(p.get("steps", 0))
                        self.loss, self.seconds_left = p.get("loss"), p.get("seconds_left")
                        self.sessions, self.held_out = int(p.get("sessions", 0)), int(p.get("held_out", 0))
                        self.ops, self.resumed = int(p.get("ops", 0)), bool(p.get("resumed", False))
                        self.on_change()
                    elif "done" in event:
                        self.done = event["done"]
            if self.done is None and not self.cancelled:
                error = RuntimeError("the daemon ended the stream without a model")
        except RpcError as e:
            error = RuntimeError(e.message or e.code_name)
        except Exception as e:  # noqa: BLE001 (shown to the painter, who can retry)
            error = e
        if not self.cancelled:
            self._finish(error)

    def _finish(self, error):
        if self.finished:
            return
        self.error = error
        self.finished = True
        self.on_change()

    def describe(self):
        """One line for the docker."""
        if not self.finished:
            if not self.steps:
                return "starting…"
            left = f", about {int(self.seconds_left) + 1} s left" if self.seconds_left is not None else ""
            again = " (resumed)" if self.resumed else ""
            sessions = f"{self.sessions} session" + ("" if self.sessions == 1 else "s")
            return f"learning from {sessions} ({self.ops} ops){again}: step {self.step} of {self.steps}{left}"
        if self.cancelled:
            return "stopped; Learn my style again resumes it"
        if self.error is not None:
            return f"not learned: {self.error}"
        d = self.done
        return (
            f"learned {d.get('model')}: it predicts your latest session at {d.get('loss_after', 0):.1f} "
            f"(the built-in model {d.get('loss_before', 0):.1f}; lower is closer); Continue paints with it"
        )
