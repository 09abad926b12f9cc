"""Municipalities, areas (wijken), neighbourhoods (buurten) and their population figures."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from buurtbudget.extensions import db


class Municipality(db.Model):
    __tablename__ = "municipality"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    slug: Mapped[str] = mapped_column(String(80), unique=True)
    # CBS municipality code, e.g. "GM0503" for Delft.
    cbs_code: Mapped[str | None] = mapped_column(String(10), unique=True)

    areas: Mapped[list[Area]] = relationship(
        back_populates="municipality", order_by="Area.name", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Municipality {self.slug}>"


class Area(db.Model):
    """A wijk: the unit that gets a budget, a council and voting rounds."""

    __tablename__ = "area"
    __table_args__ = (UniqueConstraint("municipality_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipality.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    # CBS wijk code, e.g. "WK050321".
    cbs_code: Mapped[str | None] = mapped_column(String(10), unique=True)

    municipality: Mapped[Municipality] = relationship(back_populates="areas")
    neighbourhoods: Mapped[list[Neighbourhood]] = relationship(
        back_populates="area", order_by="Neighbourhood.name", cascade="all, delete-orphan"
    )
    populations: Mapped[list[AreaPopulation]] = relationship(
        back_populates="area", order_by="AreaPopulation.year", cascade="all, delete-orphan"
    )

    def population_for(self, year: int) -> AreaPopulation | None:
        """The figures of ``year``, or of the latest earlier year when that year is missing."""
        earlier = [p for p in self.populations if p.year <= year]
        return max(earlier, key=lambda p: p.year) if earlier else None

    def __repr__(self) -> str:
        return f"<Area {self.name}>"


class Neighbourhood(db.Model):
    """A buurt inside an area."""

    __tablename__ = "neighbourhood"
    __table_args__ = (UniqueConstraint("area_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    cbs_code: Mapped[str | None] = mapped_column(String(12), unique=True)

    area: Mapped[Area] = relationship(back_populates="neighbourhoods")


# CBS "kerncijfers wijken en buurten" age bands, in the order CBS publishes them.
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("age_0_14", 0, 14),
    ("age_15_24", 15, 24),
    ("age_25_44", 25, 44),
    ("age_45_64", 45, 64),
    ("age_65_plus", 65, None),
)


class AreaPopulation(db.Model):
    """Population figures of one area in one year: the base of per-capita budgets and weights."""

    __tablename__ = "area_population"
    __table_args__ = (
        UniqueConstraint("area_id", "year"),
        CheckConstraint("inhabitants >= 0", name="inhabitants_non_negative"),
        CheckConstraint("households >= 0", name="households_non_negative"),
        CheckConstraint(
            "(age_0_14 IS NULL OR age_0_14 >= 0) AND (age_15_24 IS NULL OR age_15_24 >= 0)"
            " AND (age_25_44 IS NULL OR age_25_44 >= 0) AND (age_45_64 IS NULL OR age_45_64 >= 0)"
            " AND (age_65_plus IS NULL OR age_65_plus >= 0)",
            name="age_bands_non_negative",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    year: Mapped[int]
    inhabitants: Mapped[int]
    households: Mapped[int]
    age_0_14: Mapped[int | None]
    age_15_24: Mapped[int | None]
    age_25_44: Mapped[int | None]
    age_45_64: Mapped[int | None]
    age_65_plus: Mapped[int | None]
    # A published need/deprivation index chosen by the municipality (e.g. 100 = city average).
    need_index: Mapped[float | None]

    area: Mapped[Area] = relationship(back_populates="populations")

    def age_band_counts(self) -> dict[str, int] | None:
        """Counts per age band, or None when not all bands are known."""
        counts = {band: getattr(self, band) for band, _, _ in AGE_BANDS}
        return None if any(v is None for v in counts.values()) else counts


class PostcodeRange(db.Model):
    """Which area a run of house numbers on one postcode belongs to.

    Registration looks residents up here by postcode + house number, so nobody can pick an
    area (and its votes) by hand; staff assign the area where no range matches.
    """

    __tablename__ = "postcode_range"
    __table_args__ = (
        Index("ix_postcode_range_lookup", "postcode", "house_number_from"),
        CheckConstraint("house_number_from <= house_number_to", name="range_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    postcode: Mapped[str] = mapped_column(String(6))  # normalised: "2611AB"
    house_number_from: Mapped[int]
    house_number_to: Mapped[int]
    area_id: Mapped[int] = mapped_column(ForeignKey("area.id"), index=True)
    neighbourhood_id: Mapped[int | None] = mapped_column(ForeignKey("neighbourhood.id"))

    area: Mapped[Area] = relationship()
