"""Progress lines inside an epoch, the same for both frameworks, so `tail -f` on a
job's log shows a CPU epoch of several minutes moving."""

import math
import time

MARKS = 10  # a line at every tenth of an epoch...
MAX_SILENCE_SECONDS = 30.0  # ...and whenever this long has passed without one


def clock_text(seconds):
    """h:mm:ss or m:ss."""
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class EpochProgress:
    """Logs step, images/s, running loss and the ETA of the epoch and of the job's
    remaining training epochs."""

    def __init__(self, log, epoch, epochs, steps, batch_size, clock=time.perf_counter):
        self.log, self.epoch, self.epochs = log, epoch, epochs
        self.steps, self.batch_size, self.clock = steps, batch_size, clock
        self.every = max(1, math.ceil(steps / MARKS))
        self.start = self.last = clock()
        self.next_mark = self.every

    def update(self, step, running_loss):
        """Call after each step; `running_loss()` (the epoch's mean loss so far) is
        evaluated only when a line is written."""
        now = self.clock()
        quiet = now - self.last < MAX_SILENCE_SECONDS
        if step >= self.steps or (step < self.next_mark and quiet):  # the end has its own line
            return
        elapsed = max(now - self.start, 1e-9)
        per_step = elapsed / step
        left_in_epoch = (self.steps - step) * per_step
        left_in_job = left_in_epoch + (self.epochs - self.epoch) * self.steps * per_step
        self.log(
            f"epoch {self.epoch}/{self.epochs} step {step}/{self.steps} "
            f"({100 * step / self.steps:.0f}%) {step * self.batch_size / elapsed:.0f} img/s "
            f"loss={running_loss():.4f} ETA epoch {clock_text(left_in_epoch)} "
            f"training {clock_text(left_in_job)}"
        )
        self.last = now
        self.next_mark = (step // self.every + 1) * self.every  # the first mark after step
