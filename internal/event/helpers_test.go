package event

import "time"

func uuidTime() time.Time { return time.Date(2026, 11, 27, 12, 0, 0, 123_456_789, time.UTC) }
