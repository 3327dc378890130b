"""Request and response bodies of the shipments API."""

from typing import Annotated, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, StrictInt

from domain.booking import Booking, Parcel, Party

AreaCode = Annotated[str, Field(pattern=r"^[A-Z]{3}[0-9]{5}$", examples=["CGK10110"])]
Dimension = Annotated[StrictInt, Field(ge=1, le=500, description="centimetres")]
# domain/custody.py's RELATIONSHIPS, spelled out so the OpenAPI document lists them.
Relationship = Literal["addressee", "family", "colleague", "neighbour", "security", "other"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class PartyIn(_Strict):
    name: str = Field(min_length=1, max_length=100)
    phone: str = Field(pattern=r"^(\+62|62|0)8[0-9]{7,12}$", examples=["081234567890"])
    address: str = Field(min_length=1, max_length=300)
    area: AreaCode
    email: Annotated[EmailStr, Field(max_length=254)] | None = Field(
        default=None, description="Optional; stored sealed, like the name, phone and address."
    )

    def to_domain(self) -> Party:
        return Party(self.name, self.phone, self.address, self.area, self.email)


class ParcelIn(_Strict):
    weight_grams: StrictInt = Field(ge=1, le=1_000_000)
    length_cm: Dimension
    width_cm: Dimension
    height_cm: Dimension
    declared_value: StrictInt = Field(ge=0, le=10**12, description="rupiah")
    description: str = Field(default="", max_length=200)

    def to_domain(self) -> Parcel:
        return Parcel(**self.model_dump())


class BookingIn(_Strict):
    service: str = Field(pattern=r"^[A-Z]{2,6}$", examples=["REG"])
    shipper: PartyIn
    receiver: PartyIn
    parcel: ParcelIn
    cod_amount: StrictInt | None = Field(default=None, ge=0, le=10**12, description="rupiah")

    def to_domain(self) -> Booking:
        return Booking(
            self.service,
            self.shipper.to_domain(),
            self.receiver.to_domain(),
            self.parcel.to_domain(),
            self.cod_amount,
        )


class BookingOut(BaseModel):
    awb: str
    consistency_token: str


class ScanIn(_Strict):
    scan_id: UUID = Field(description="Chosen by the device; a retry with it is idempotent.")
    code: str = Field(pattern=r"^[A-Z0-9]{3}$", examples=["OP1"])
    scanned_at: AwareDatetime
    location: AreaCode
    recipient_name: str | None = Field(default=None, min_length=1, max_length=100)
    recipient_relationship: Relationship | None = Field(
        default=None, description="Who took the parcel, as the addressee."
    )
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)


class BatchScanIn(ScanIn):
    awb: str = Field(min_length=1, max_length=40)


class ScanBatchIn(_Strict):
    scans: list[BatchScanIn] = Field(min_length=1, max_length=500)


class ScanOut(BaseModel):
    awb: str
    scan_id: UUID
    recorded: bool = Field(description="False when this scan id had already been recorded.")


class ScanRecordedOut(ScanOut):
    consistency_token: str


class ScanBatchOut(BaseModel):
    scans: list[ScanOut]
    consistency_token: str
