"""A bounded history of the stack sampler's figures over a day, by wall-clock time.

The sampler's store keeps one-second buckets for ten minutes. The history takes each of
them once it is closed (its figures and the unix time it started) and keeps coarser
buckets by wall-clock time in tiers: by default 10 s buckets for the last hour, then
5 min buckets up to 24 hours. A 10 s bucket that ages out of the first tier is merged
(downsampled) into its 5 min bucket; a 5 min bucket older than a day is dropped. A
sample is always in exactly one bucket, so `between` never counts one twice.

Each tier is a `StackStore` keyed by wall time, with its mechanisms: every distinct stack
tuple is held once however many buckets hold it, and past a cap new stacks share the
bucket's "[other stacks]" entry (their samples and seconds still counted). A tier's
newest bucket gathers its figures in a staging bucket first; when a newer one begins, it
is added to the tier largest stacks first, so each bucket keeps its biggest stacks
rather than those it saw first. The caps of a tier (`TierCaps`):

- stacks per bucket (plus its "[other stacks]" entry), and entries across the tier;
- label ids (frames) of the distinct stacks the tier holds, and of the stacks new to the
  tier that one bucket may bring in (so every bucket gets its share, not the first ones);
- labels with call counts per bucket, of each kind (attributed, leaf): past it the calls
  of the labels seen least are dropped (`dropped_calls`);
- the staging bucket's own stacks, frames and calls.

Worst-case bytes, each figure measured on CPython 3.11 (64-bit) and rounded up: a bucket
700, a (bucket, stack) entry 300 with its stack held on its own (the stack's figures, the
dict slot, the tuple's header and the tier's record of it), a frame 8 (a label id in a
tuple; the labels are the labeler's), a call count 85. The default caps share a budget of
DEFAULT_BUDGET_BYTES (20 MiB) between the tiers, after their staging buckets:

============  =======  ===============  =============  ===================  ==========
tier          buckets  stacks / bucket  frames (tier)  new frames / bucket  worst case
============  =======  ===============  =============  ===================  ==========
10 s, 1 h     362      32 (+1 other)    474,396        1,310                9.2 MiB
5 min, 24 h   278      43 (+1 other)    477,336        1,717                9.3 MiB
staging       2 x 1    1,024            32,768         -                    2 x 0.7 MiB
============  =======  ===============  =============  ===================  ==========

19.8 MiB in all. Calls are capped per bucket at its stacks' cap, of each kind (1,024 in a
staging bucket). A history fed the worst (every second a hundred new stacks 40 deep and
64 new labels with calls, bench/footprint.py) holds about 18 MB after 24 h, and no more
after that.

`caps_for(tiers, budget_bytes)` derives them for other tiers or budgets (60 % of a tier's
share for its entries and their calls, 40 % for frames) and `worst_case_bytes()` adds
them up; `memory_bytes()` estimates what is held now with the same figures. A busy
service whose hot stacks recur holds far less: a stack held by many buckets costs its
frames once.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from profiling.core.stacks.store import (
    MAX_STACKS_PER_BUCKET,
    Figures,
    SpanBucket,
    Stack,
    StackStore,
    Totals,
)

DEFAULT_TIERS: tuple[tuple[float, float], ...] = ((10.0, 3600.0), (300.0, 86400.0))
DEFAULT_BUDGET_BYTES = 20 * 1024 * 1024

# Worst-case bytes of what a tier holds (see the module docstring).
BUCKET_BYTES = 700
ENTRY_BYTES = 300
FRAME_BYTES = 8
CALL_BYTES = 85
# Of a tier's share of the budget: entries with their calls, the rest for frames.
ENTRIES_SHARE = 0.6

# The staging bucket of each tier (its newest, gathered in full before its biggest stacks
# are kept): the sampler's ten one-second buckets of up to 256 stacks each fit it mostly.
STAGING_STACKS = 1024
STAGING_FRAMES = 32_768


@dataclass(frozen=True)
class TierCaps:
    """What one tier may hold (see the module docstring)."""

    stacks_per_bucket: int
    held_entries: int
    held_frames: int
    new_frames_per_bucket: int
    calls_per_bucket: int
    staging_stacks: int = STAGING_STACKS
    staging_frames: int = STAGING_FRAMES


@dataclass
class HistoryTotals(Totals):
    """A window of the history merged: `span_secs` is the seconds its buckets cover,
    [first, last) the earliest and latest time they cover (None when empty)."""

    first: float | None = None
    last: float | None = None


def _validated(tiers: Iterable[Sequence[float]]) -> tuple[tuple[float, float], ...]:
    result = tuple((float(width), float(horizon)) for width, horizon in tiers)
    if not result:
        raise ValueError("a history needs at least one tier")
    previous: tuple[float, float] | None = None
    for width, horizon in result:
        if not (width > 0 and math.isfinite(horizon) and horizon >= width):
            raise ValueError("each tier needs a positive bucket width and a horizon of at least one bucket")
        if previous is not None:
            ratio = width / previous[0]
            if horizon <= previous[1] or ratio < 1 or abs(ratio - round(ratio)) > 1e-9:
                raise ValueError(
                    "each tier must reach further back than the one before, with buckets a whole "
                    "multiple of its buckets"
                )
        previous = (width, horizon)
    return result


def tier_buckets(tiers: Sequence[tuple[float, float]]) -> list[int]:
    """How many buckets each tier holds at most: its part of the horizon, and one at each end."""
    counts = []
    reach = 0.0
    for width, horizon in tiers:
        counts.append(math.ceil((horizon - reach) / width) + 2)
        reach = horizon
    return counts


def staging_bytes(caps: TierCaps) -> int:
    return (
        BUCKET_BYTES
        + (caps.staging_stacks + 1) * ENTRY_BYTES
        + caps.staging_frames * FRAME_BYTES
        + 2 * caps.staging_stacks * CALL_BYTES
    )


def tier_bytes(caps: TierCaps, buckets: int) -> int:
    """Worst-case bytes of a tier's buckets (its staging bucket apart)."""
    entries = min(caps.held_entries, buckets * caps.stacks_per_bucket) + buckets  # + "[other stacks]"
    return (
        buckets * BUCKET_BYTES
        + entries * ENTRY_BYTES
        + caps.held_frames * FRAME_BYTES
        + 2 * buckets * caps.calls_per_bucket * CALL_BYTES
    )


def caps_for(tiers: Sequence[Sequence[float]], budget_bytes: int = DEFAULT_BUDGET_BYTES) -> list[TierCaps]:
    """Caps for these tiers within `budget_bytes` worst case: the staging buckets first,
    then an equal share per tier, 60 % of it for entries and their calls, 40 % for frames."""
    checked = _validated(tiers)
    counts = tier_buckets(checked)
    staging = TierCaps(0, 0, 0, 0, 0)
    share = (budget_bytes - len(checked) * staging_bytes(staging)) / len(checked)
    caps = []
    for buckets in counts:
        rest = share - buckets * BUCKET_BYTES
        per_entry = ENTRY_BYTES + 2 * CALL_BYTES
        stacks = min(MAX_STACKS_PER_BUCKET, int((ENTRIES_SHARE * rest / buckets - ENTRY_BYTES) / per_entry))
        if stacks < 1:
            raise ValueError(f"{budget_bytes} bytes cannot hold one stack per bucket of these tiers")
        frames = max(1, int((1 - ENTRIES_SHARE) * rest / FRAME_BYTES))
        caps.append(
            TierCaps(
                stacks_per_bucket=stacks,
                held_entries=stacks * buckets,
                held_frames=frames,
                new_frames_per_bucket=max(1, frames // buckets),
                calls_per_bucket=stacks,
            )
        )
    return caps


class _Tier:
    """One tier: its buckets by wall time, and the staging bucket of the newest."""

    def __init__(self, width: float, horizon: float, caps: TierCaps, other_stack: Stack):
        self.width = width
        self.horizon = horizon
        self.caps = caps
        self.store = StackStore(
            bucket_secs=width,
            # Room for a bucket more than the tier keeps: buckets leave by age, never by count.
            max_window_secs=horizon + width,
            max_stacks_per_bucket=caps.stacks_per_bucket,
            max_held_entries=caps.held_entries,
            max_held_frames=caps.held_frames,
            max_new_frames_per_bucket=caps.new_frames_per_bucket,
            max_calls_per_bucket=caps.calls_per_bucket,
            other_stack=other_stack,
            bucket_type=SpanBucket,
        )
        self.staging = StackStore(
            bucket_secs=width,
            max_window_secs=width,
            max_stacks_per_bucket=caps.staging_stacks,
            max_held_entries=caps.staging_stacks,
            max_held_frames=caps.staging_frames,
            max_calls_per_bucket=caps.staging_stacks,
            other_stack=other_stack,
            bucket_type=SpanBucket,
        )

    def stores(self) -> tuple[StackStore, StackStore]:
        return self.store, self.staging


class ProfileHistory:
    """Tiers of buckets of aggregated stack samples by wall-clock time (see the module docstring).

    `tiers` are (bucket width, horizon) in seconds, finest first: a tier keeps the buckets
    that ended less than its horizon before the newest figures, those not in a finer tier.
    Fed with `add` (thread-safe), read with `between` and `coverage`.
    """

    def __init__(
        self,
        *,
        other_stack: Stack,
        tiers: Iterable[Sequence[float]] = DEFAULT_TIERS,
        budget_bytes: int = DEFAULT_BUDGET_BYTES,
        caps: Sequence[TierCaps] | None = None,
    ):
        self.tiers = _validated(tiers)
        self.caps = list(caps) if caps is not None else caps_for(self.tiers, budget_bytes)
        if len(self.caps) != len(self.tiers):
            raise ValueError("one TierCaps per tier")
        self.other_stack = other_stack
        self._tiers = [
            _Tier(width, horizon, tier_caps, other_stack)
            for (width, horizon), tier_caps in zip(self.tiers, self.caps, strict=True)
        ]
        self._lock = threading.Lock()
        self._newest_start: float | None = None
        self._newest_end: float | None = None
        # Figures older than the last tier's horizon, let go.
        self.dropped_buckets = 0
        self.dropped_samples = 0
        self.added = 0

    # -- feeding -------------------------------------------------------------------------

    def add(self, figures: Figures, start_wall: float, secs: float) -> None:
        """Fold figures covering `secs` seconds from unix time `start_wall` into the history.

        The figures go whole into the finest tier's bucket holding their middle. A start
        before the newest one seen (a wall clock set back) counts as that newest start, so
        buckets stay in time order; the figures are still all counted.
        """
        if not (math.isfinite(start_wall) and secs >= 0):
            raise ValueError("figures need a finite start and a duration")
        with self._lock:
            start = start_wall if self._newest_start is None else max(start_wall, self._newest_start)
            end = start + secs
            self._newest_start = start
            self._newest_end = end if self._newest_end is None else max(self._newest_end, end)
            self._stage(0, start + secs / 2, figures, start, end, secs)
            self._age(self._newest_end)
            self.added += 1

    def _stage(self, k: int, at: float, figures: Figures, first: float, last: float, covered: float) -> None:
        """Add figures to tier k's staging bucket, closing it first if they begin a newer one."""
        tier = self._tiers[k]
        staging = tier.staging
        with staging.lock:
            open_bucket = staging.newest()
            if open_bucket is not None and math.floor(at / tier.width) > open_bucket.index:
                self._close(tier, staging.take_ending_by(math.inf))
            staging.add_at(at, figures, first=first, last=last, covered_secs=covered)

    def _close(self, tier: _Tier, buckets: list) -> None:
        """Move closed staging buckets into their tier: each keeps its biggest stacks within the caps."""
        store = tier.store
        with store.lock:
            for bucket in buckets:
                store.add_at(
                    (bucket.index + 0.5) * tier.width,
                    bucket,
                    first=bucket.first,
                    last=bucket.last,
                    covered_secs=bucket.covered_secs,
                )

    def _age(self, newest_end: float) -> None:
        """Move the buckets past each tier's horizon into the next tier, or let them go."""
        for k, tier in enumerate(self._tiers):
            cutoff = newest_end - tier.horizon
            with tier.staging.lock:
                stale = tier.staging.take_ending_by(cutoff)
            if stale:
                self._close(tier, stale)
            with tier.store.lock:
                aged = tier.store.take_ending_by(cutoff)
            for bucket in aged:
                if k + 1 < len(self._tiers):
                    self._stage(
                        k + 1,
                        (bucket.index + 0.5) * tier.width,
                        bucket,
                        bucket.first,
                        bucket.last,
                        bucket.covered_secs,
                    )
                else:
                    self.dropped_buckets += 1
                    self.dropped_samples += bucket.busy_samples + bucket.idle_samples

    # -- reading -------------------------------------------------------------------------

    def between(self, start: float, end: float) -> HistoryTotals:
        """Merge every bucket whose covered span overlaps [start, end).

        Each part of the time is in one tier only (the finest that still holds it), so no
        sample is counted twice. `span_secs` is the seconds the merged buckets cover (they
        may begin before `start` or end after `end`: buckets are merged whole), `first`
        and `last` the earliest and latest time they cover.
        """
        found = []
        with self._lock:
            for tier in self._tiers:
                for store in tier.stores():
                    with store.lock:
                        found.extend(store.overlapping(start, end))
        totals = HistoryTotals()
        for bucket in found:
            totals.add(bucket)
            totals.span_secs += bucket.covered_secs
            totals.first = bucket.first if totals.first is None else min(totals.first, bucket.first)
            totals.last = bucket.last if totals.last is None else max(totals.last, bucket.last)
        return totals

    def coverage(self) -> tuple[float, float] | None:
        """(oldest start, newest end) of what the history holds, None before anything was added."""
        with self._lock:
            spans = [found for tier in self._tiers for store in tier.stores() if (found := store.coverage())]
        if not spans:
            return None
        return min(span[0] for span in spans), max(span[1] for span in spans)

    # -- size ----------------------------------------------------------------------------

    def counts(self) -> list[dict[str, float]]:
        """Per tier: its width, buckets, (bucket, stack) entries, distinct stacks, frames and call counts held."""
        result = []
        with self._lock:
            for tier in self._tiers:
                figures = {
                    "width": tier.width,
                    "buckets": 0,
                    "entries": 0,
                    "stacks": 0,
                    "frames": 0,
                    "calls": 0,
                }
                for store in tier.stores():
                    with store.lock:
                        buckets = list(store._buckets)  # noqa: SLF001
                        figures["buckets"] += len(buckets)
                        figures["entries"] += store.held_entries
                        figures["stacks"] += len(store._held)  # noqa: SLF001
                        figures["frames"] += store.held_frames
                        figures["calls"] += sum(len(b.app_calls) + len(b.leaf_calls) for b in buckets)
                result.append(figures)
        return result

    @property
    def dropped_calls(self) -> int:
        """Calls counted in figures added but dropped at a bucket's cap on labels."""
        return sum(store.dropped_calls for tier in self._tiers for store in tier.stores())

    def memory_bytes(self) -> int:
        """An estimate of the bytes held now, with the worst-case figure of each part."""
        return sum(
            int(
                tier["buckets"] * BUCKET_BYTES
                + tier["entries"] * ENTRY_BYTES
                + tier["frames"] * FRAME_BYTES
                + tier["calls"] * CALL_BYTES
            )
            for tier in self.counts()
        )

    def worst_case_bytes(self) -> int:
        """The most the history can hold by its caps, in bytes (see the module docstring)."""
        counts = tier_buckets(self.tiers)
        return sum(
            tier_bytes(caps, buckets) + staging_bytes(caps)
            for caps, buckets in zip(self.caps, counts, strict=True)
        )
