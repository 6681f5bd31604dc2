package team

import (
	"fmt"
	"time"
)

// Day is a UTC calendar day, counted from 1970-01-01.
type Day int32

// DayOf is the UTC day of t.
func DayOf(t time.Time) Day { return Day(t.UTC().Unix() / 86400) }

// Time is the start of the day.
func (d Day) Time() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String is the day as 2006-01-02.
func (d Day) String() string { return d.Time().Format(time.DateOnly) }

// ParseDay reads a day written by String.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, err
	}
	return DayOf(t), nil
}

// Period is a budget's calendar window.
type Period string

// The periods.
const (
	PerDay   Period = "day"
	PerWeek  Period = "week" // ISO: from Monday
	PerMonth Period = "month"
)

// Window is the period holding t, as [start, end) in UTC.
func (p Period) Window(t time.Time) (start, end time.Time, err error) {
	t = t.UTC()
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch p {
	case PerDay:
		return day, day.AddDate(0, 0, 1), nil
	case PerWeek:
		back := (int(day.Weekday()) + 6) % 7 // days since Monday
		start = day.AddDate(0, 0, -back)
		return start, start.AddDate(0, 0, 7), nil
	case PerMonth:
		start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0), nil
	}
	return time.Time{}, time.Time{}, fmt.Errorf("%q is not day, week or month", string(p))
}

var timeZero = time.Unix(0, 0)
