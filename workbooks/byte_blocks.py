"""Many text fields at once, as blocks of bytes.

A Python string per cell costs about a microsecond: over a million rows and a dozen
columns that is most of a save. Big tables are instead built a column at a time as
blocks of bytes, one row per table row, padded with NUL bytes; the blocks and the markup
between them are laid side by side and the NULs squeezed out, which leaves each row's
text. A cell cannot hold NUL (XML forbids it): text with one takes the slow path (the
XML writes it as _x0000_; CSV drops it).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Block = npt.NDArray[np.uint8]


def _four_digit_table() -> npt.NDArray[np.uint32]:
    """Every group of four decimal digits (0-9999) three ways, as 4-byte words: padded
    with zeros ("0042"), right-aligned without leading zeros (NUL NUL "42"), and
    left-aligned without trailing zeros ("0042" -> "0042", "5000" -> "5", 0 -> "0"); then
    four NULs. Numbers are written a group at a time by looking their groups up here."""
    padded = [f"{i:04d}".encode() for i in range(10_000)]
    leading = [str(i).encode().rjust(4, b"\0") for i in range(10_000)]
    trailing = [(f"{i:04d}".rstrip("0") or "0").encode().ljust(4, b"\0") for i in range(10_000)]
    words = b"".join([*padded, *leading, *trailing, b"\0" * 4])
    return np.frombuffer(words, dtype=np.uint32).copy()


_GROUPS = _four_digit_table()
_LEADING, _TRAILING, _NOTHING = 10_000, 20_000, 30_000
_POWERS = 10 ** np.arange(19, dtype=np.int64)


def utf8_block(texts: Sequence[str] | npt.NDArray[np.object_]) -> Block:
    """Strings as a block: row i holds the UTF-8 bytes of ``texts[i]``."""
    array = np.asarray(texts, dtype=object)
    if not len(array):
        return np.zeros((0, 1), dtype=np.uint8)
    try:
        fixed = array.astype("S")  # ASCII text: converted in C
    except UnicodeEncodeError:
        fixed = np.array([t.encode("utf-8") for t in array.tolist()], dtype="S")
    return fixed.view(np.uint8).reshape(len(array), max(fixed.dtype.itemsize, 1))


def constant(text: str, rows: int) -> Block:
    """The same text on every row."""
    return np.broadcast_to(np.frombuffer(text.encode("utf-8"), dtype=np.uint8), (rows, len(text)))


def squeeze(blocks: Sequence[Block]) -> bytes:
    """The blocks side by side, row after row, without their NUL padding."""
    if not blocks or not len(blocks[0]):
        return b""
    flat = np.concatenate(blocks, axis=1).ravel()
    return bytes(flat[flat != 0].tobytes())


def only(block: Block, rows: npt.NDArray[np.bool_]) -> Block:
    """The block with every row not in ``rows`` emptied."""
    return np.where(rows[:, None], block, np.uint8(0))


def text_lengths(block: Block) -> npt.NDArray[np.int64]:
    """Bytes in each row of a block (its text has no NUL)."""
    return np.asarray(np.count_nonzero(block, axis=1), dtype=np.int64)


def wrap(block: Block, rows: npt.NDArray[np.bool_], before: str, after: str) -> Block:
    """``before`` + the row's text + ``after`` on ``rows`` (one-byte marks, or ""), the
    text alone elsewhere."""
    n, width = block.shape
    out = np.zeros((n, width + 2), dtype=np.uint8)
    out[:, 1 : width + 1] = block
    at = np.flatnonzero(rows)
    if before:
        out[at, 0] = ord(before)
    if after:
        # Just after the row's last byte (its text may not start at the first column).
        ends = width - np.argmax(block[at, ::-1] != 0, axis=1)
        out[at, ends + 1] = ord(after)
    return out


def placed(block: Block, rows: npt.NDArray[np.intp], texts: Sequence[str]) -> Block:
    """The block with ``rows`` replaced by ``texts`` (widened as they need)."""
    if not len(rows):
        return block
    patch = utf8_block(texts)
    width = max(block.shape[1], patch.shape[1])
    out = np.zeros((block.shape[0], width), dtype=np.uint8)
    out[:, : block.shape[1]] = block
    out[rows] = 0
    out[rows, : patch.shape[1]] = patch
    return out


def digits_block(values: npt.NDArray[np.int64], rows: npt.NDArray[np.bool_]) -> Block:
    """Non-negative integers as decimal digits without leading zeros (0 is "0"), on
    ``rows`` (the others empty), right-aligned in as many groups of four columns as the
    longest needs."""
    length = np.searchsorted(_POWERS[1:], values, side="right") + 1
    top = np.where(rows, (length - 1) // 4, -1)
    groups = int(top.max(initial=0)) + 1
    out = np.empty((len(values), groups), dtype=np.uint32)
    for k in range(groups):
        part = (values // 10 ** (4 * k)) % 10_000
        at = np.where(k < top, part, np.where(k == top, _LEADING + part, _NOTHING))
        out[:, groups - 1 - k] = _GROUPS[at]
    return out.view(np.uint8)


def decimals_block(ninths: npt.NDArray[np.int64], rows: npt.NDArray[np.bool_]) -> Block:
    """Nine decimals (0 to 999,999,999 billionths) without trailing zeros (none is "0"),
    on ``rows`` (the others empty), left-aligned in as many groups of four columns as the
    longest needs."""
    twelfths = ninths * 1000
    parts = [(twelfths // 10 ** (4 * (2 - j))) % 10_000 for j in range(3)]
    last = np.where(parts[2] > 0, 2, np.where(parts[1] > 0, 1, 0))
    last = np.where(rows, last, -1)
    groups = int(last.max(initial=0)) + 1
    out = np.empty((len(ninths), groups), dtype=np.uint32)
    for j, part in enumerate(parts[:groups]):
        out[:, j] = _GROUPS[
            np.where(j < last, part, np.where(j == last, _TRAILING + part, _NOTHING))
        ]
    return out.view(np.uint8)


def int_block(values: npt.NDArray[np.int64]) -> Block:
    """Integers as ``str`` writes them."""
    values = np.asarray(values, dtype=np.int64)
    # The magnitude of the most negative int64 does not fit one: formatted one by one.
    common = values > np.iinfo(np.int64).min
    size = np.where(common, np.abs(values), 0)
    sign = np.where(values < 0, np.uint8(ord("-")), np.uint8(0))[:, None]
    block = np.concatenate([sign, digits_block(size, common)], axis=1)
    rare = np.flatnonzero(~common)
    return placed(block, rare, [str(v) for v in values[rare].tolist()])


def float_block(values: npt.NDArray[np.float64]) -> tuple[Block, npt.NDArray[np.bool_]]:
    """Finite floats as ``repr`` writes them, and which rows are finite (the others are
    empty). Floats ``repr`` writes positionally with at most nine decimals (most
    quantities) are made from their digits; the rest are formatted one by one."""
    values = np.asarray(values, dtype=np.float64)
    step = 1 << 17  # a slice's working arrays stay in the processor's cache
    if len(values) <= step:
        return _float_block(values)
    slices = [_float_block(values[i : i + step]) for i in range(0, len(values), step)]
    out = np.zeros((len(values), max(b.shape[1] for b, _ in slices)), dtype=np.uint8)
    for i, (block, _) in zip(range(0, len(values), step), slices, strict=True):
        out[i : i + len(block), : block.shape[1]] = block
    return out, np.concatenate([finite for _, finite in slices])


def _float_block(values: npt.NDArray[np.float64]) -> tuple[Block, npt.NDArray[np.bool_]]:
    finite = np.isfinite(values)
    size = np.where(finite, np.abs(values), 0.0)
    whole = finite & (size < 1e16) & (size == np.floor(size))
    scaled = np.round(np.where(size < 1e6, size, 0.0) * 1e9)
    ninths = finite & ~whole & (size >= 1e-4) & (size < 1e6) & (scaled / 1e9 == size)
    # repr writes -0.0 with its sign: one of the rare ones.
    fast = (whole | ninths) & ~((values == 0) & np.signbit(values))
    units = np.where(whole, size, np.where(ninths, scaled // 10**9, 0)).astype(np.int64)
    fraction = np.where(ninths, scaled % 10**9, 0).astype(np.int64)
    negative = fast & (values < 0)
    block = np.concatenate(
        [
            *(
                [np.where(negative, np.uint8(ord("-")), np.uint8(0))[:, None]]
                if negative.any()
                else []
            ),
            digits_block(units, fast),
            np.where(fast, np.uint8(ord(".")), np.uint8(0))[:, None],
            decimals_block(fraction, fast),
        ],
        axis=1,
    )
    slow = np.flatnonzero(finite & ~fast)
    return placed(block, slow, [repr(v) for v in values[slow].tolist()]), finite
