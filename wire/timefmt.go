package wire

import "time"

// appendRFC3339 appends t in UTC as t.UTC().AppendFormat does with
// time.RFC3339Nano (millis false: the fraction without its trailing zeros,
// none for a whole second) or with milliLayout (millis true: always three
// digits, truncated). A decision event writes three to six times, and
// AppendFormat, which reads its layout at every call, was 1.8% of
// scenario a's CPU (BenchmarkAppendTime). Years outside 1-9999 go to
// AppendFormat.
func appendRFC3339(b []byte, t time.Time, millis bool) []byte {
	unix := t.Unix()
	if unix < minUnix || unix > maxUnix {
		if millis {
			return t.UTC().AppendFormat(b, milliLayout)
		}
		return t.UTC().AppendFormat(b, time.RFC3339Nano)
	}
	u := uint64(unix - minUnix) // seconds since 0001-01-01
	year, month, day := civil(u / 86400)
	secs := uint32(u % 86400)
	hour, minute, sec := secs/3600, secs/60%60, secs%60
	b = append(b,
		byte('0'+year/1000), byte('0'+year/100%10), byte('0'+year/10%10), byte('0'+year%10), '-',
		byte('0'+month/10), byte('0'+month%10), '-',
		byte('0'+day/10), byte('0'+day%10), 'T',
		byte('0'+hour/10), byte('0'+hour%10), ':',
		byte('0'+minute/10), byte('0'+minute%10), ':',
		byte('0'+sec/10), byte('0'+sec%10))
	ns := uint32(t.Nanosecond())
	switch {
	case millis:
		ms := ns / 1e6
		b = append(b, '.', byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	case ns != 0:
		n := 10
		for ns%10 == 0 {
			ns /= 10
			n--
		}
		var frac [10]byte
		frac[0] = '.'
		for i := n - 1; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z')
}

// The seconds since 1970 of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z.
const (
	minUnix = -62135596800
	maxUnix = 253402300799
)

// civil is the proleptic Gregorian date of a day counted from 0001-01-01
// (Howard Hinnant's civil_from_days, its eras of 400 years starting on
// 0000-03-01, which is 306 days earlier).
func civil(days uint64) (year, month, day uint32) {
	z := days + 306
	era, doe := z/146097, uint32(z%146097)
	yoe := (doe - doe/1460 + doe/36524 - doe/146096) / 365
	doy := doe - (365*yoe + yoe/4 - yoe/100)
	mp := (5*doy + 2) / 153
	day = doy - (153*mp+2)/5 + 1
	month = mp + 3
	if month > 12 {
		month -= 12
	}
	year = yoe + uint32(era)*400
	if month <= 2 {
		year++
	}
	return year, month, day
}
