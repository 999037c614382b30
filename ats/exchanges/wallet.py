"""Simulated spot wallet: free balances plus per-order holds.

Every open order holds what it may need (quote for a buy, base for a sell). A hold is
consumed by fills and whatever is left is released when the order ends, so
``used(asset)`` is always the sum of the open orders' holds and no balance goes negative.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ats.exceptions import InsufficientFunds
from ats.exchanges.data_classes import Balance

# Relative float slack tolerated when a fill consumes "all" of a balance: repeated
# multiplications can overshoot by a few ULPs; the overshoot is clamped, never owed.
_EPSILON = 1e-9


def _is_dust(shortfall: float, scale: float) -> bool:
    return shortfall <= _EPSILON * max(abs(scale), 1.0)


class Wallet:
    """Balances of one trading account (a job's simulated account in back_trading/paper)."""

    __slots__ = ("_free", "_holds", "_used")

    def __init__(self, balances: Mapping[str, float] | None = None) -> None:
        self._free: dict[str, float] = {}
        self._used: dict[str, float] = {}
        self._holds: dict[str, tuple[str, float]] = {}
        for asset, amount in (balances or {}).items():
            if amount < 0:
                raise ValueError(f"balance of {asset} must not be negative, got {amount}")
            self._free[asset] = float(amount)

    # -- reading -----------------------------------------------------------------------
    def free(self, asset: str) -> float:
        return self._free.get(asset, 0.0)

    def used(self, asset: str) -> float:
        return self._used.get(asset, 0.0)

    def total(self, asset: str) -> float:
        return self.free(asset) + self.used(asset)

    def balance(self, asset: str) -> Balance:
        return Balance(asset, self.free(asset), self.used(asset))

    def assets(self) -> list[str]:
        return sorted(set(self._free) | set(self._used))

    def balances(self) -> dict[str, Balance]:
        return {asset: self.balance(asset) for asset in self.assets()}

    def hold_of(self, order_id: str) -> tuple[str, float] | None:
        return self._holds.get(order_id)

    def holds(self) -> dict[str, tuple[str, float]]:
        return dict(self._holds)

    # -- holds ---------------------------------------------------------------------------
    def hold(self, order_id: str, asset: str, amount: float) -> None:
        """Move ``amount`` of ``asset`` from free to used for ``order_id``."""
        if amount < 0:
            raise ValueError(f"hold amount must not be negative, got {amount}")
        if order_id in self._holds:
            raise ValueError(f"order {order_id} already holds funds")
        free = self._free.get(asset, 0.0)
        if amount > free:
            raise InsufficientFunds(
                f"insufficient {asset}: order needs {amount:.8g}, free is {free:.8g}"
            )
        self._free[asset] = free - amount
        self._used[asset] = self._used.get(asset, 0.0) + amount
        self._holds[order_id] = (asset, amount)

    def release(self, order_id: str) -> float:
        """Return what is left of an order's hold to free balance (cancel, reject, expiry)."""
        held = self._holds.pop(order_id, None)
        if held is None:
            return 0.0
        asset, amount = held
        self._free[asset] = self._free.get(asset, 0.0) + amount
        self._reduce_used(asset, amount)
        return amount

    def _reduce_used(self, asset: str, amount: float) -> None:
        remaining = self._used.get(asset, 0.0) - amount
        # Holds are summed in a different order than they are removed; snap float residue.
        if remaining < 0:
            self._used[asset] = 0.0
            return
        # A plain loop, inline: twice per fill, and any() over a generator cost four times
        # as much for the one or two holds there are (bench/backtest_speed.py, vectorised).
        for held_asset, _ in self._holds.values():
            if held_asset == asset:
                self._used[asset] = remaining
                return
        self._used[asset] = 0.0

    # -- settlement ----------------------------------------------------------------------
    def can_pay(self, order_id: str, asset: str, amount: float) -> bool:
        """Whether ``amount`` can be paid from the order's hold plus free balance."""
        held = self._holds.get(order_id)
        available = self.free(asset) + (held[1] if held and held[0] == asset else 0.0)
        return amount <= available or _is_dust(amount - available, amount)

    def settle(
        self,
        order_id: str,
        pay_asset: str,
        pay_amount: float,
        receive_asset: str,
        receive_amount: float,
        last: bool = False,
    ) -> None:
        """Apply one fill: pay from the order's hold first, then free; credit the proceeds.
        ``last``: the fill ends the order, whose hold is then released (:meth:`release`).

        Raises InsufficientFunds (and changes nothing) if the payment cannot be covered.
        """
        if pay_amount < 0 or receive_amount < 0:
            raise ValueError("fill amounts must not be negative")
        # can_pay() spelled out: once per fill (bench/backtest_speed.py)
        free = self._free
        held = self._holds.get(order_id)
        on_hold = held[1] if held is not None and held[0] == pay_asset else None
        available = free.get(pay_asset, 0.0) + (0.0 if on_hold is None else on_hold)
        if not (pay_amount <= available or _is_dust(pay_amount - available, pay_amount)):
            raise InsufficientFunds(
                f"insufficient {pay_asset} at fill: needs {pay_amount:.8g}, "
                f"free {self.free(pay_asset):.8g}"
            )
        from_hold = 0.0
        if on_hold is not None:
            from_hold = min(pay_amount, on_hold)
            self._holds[order_id] = (pay_asset, on_hold - from_hold)
            # _reduce_used(), knowing that this order still holds pay_asset
            remaining = self._used.get(pay_asset, 0.0) - from_hold
            self._used[pay_asset] = 0.0 if remaining < 0 else remaining
        from_free = pay_amount - from_hold
        if from_free > 0:
            free[pay_asset] = max(free.get(pay_asset, 0.0) - from_free, 0.0)
        free[receive_asset] = free.get(receive_asset, 0.0) + receive_amount
        if last:  # release(), without a second call per fill (bench/backtest_speed.py)
            held = self._holds.pop(order_id, None)
            if held is not None:
                asset, amount = held
                free[asset] = free.get(asset, 0.0) + amount
                self._reduce_used(asset, amount)

    def charge(self, asset: str, amount: float) -> None:
        """Pay a fee in an asset the fill does not trade (e.g. BNB) from free balance."""
        if amount < 0:
            raise ValueError(f"charge must not be negative, got {amount}")
        free = self.free(asset)
        if amount > free and not _is_dust(amount - free, amount):
            raise InsufficientFunds(f"insufficient {asset} for a fee of {amount:.8g}")
        self._free[asset] = max(free - amount, 0.0)

    def deposit(self, asset: str, amount: float) -> None:
        if amount < 0:
            raise ValueError(f"deposit must not be negative, got {amount}")
        self._free[asset] = self.free(asset) + amount

    # -- persistence ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "free": dict(self._free),
            "holds": {
                order_id: [asset, amount] for order_id, (asset, amount) in self._holds.items()
            },
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Wallet:
        wallet = cls(data.get("free", {}))
        for order_id, (asset, amount) in data.get("holds", {}).items():
            if amount < 0:
                raise ValueError(f"hold of order {order_id} must not be negative")
            wallet._holds[order_id] = (asset, float(amount))
            wallet._used[asset] = wallet.used(asset) + float(amount)
        return wallet

    def equity(self, prices: Mapping[str, float], quote: str) -> float:
        """Total value in ``quote``; assets without a price (other than quote) are ignored."""
        value = 0.0
        for asset in self.assets():
            if asset == quote:
                value += self.total(asset)
            elif asset in prices:
                value += self.total(asset) * prices[asset]
        return value

    def __repr__(self) -> str:
        parts: Iterable[str] = (
            f"{b.asset}={b.free:.8g}+{b.used:.8g}" for b in self.balances().values()
        )
        return f"Wallet({', '.join(parts)})"
