package detect

import (
	"bytes"
	"strings"
)

// Offline validators of the PII class: checksums and issuing rules. Each takes the
// candidate as found (separators included where the format allows them), never
// panics on any input and allocates nothing.

// digitsOf copies the ASCII digits of b into buf, skipping the separators in seps,
// and returns them; ok is false if b holds any other byte or more digits than buf.
func digitsOf(buf []byte, b []byte, seps string) (d []byte, ok bool) {
	d = buf[:0]
	for _, c := range b {
		switch {
		case isDigit(c):
			if len(d) == cap(buf) {
				return nil, false
			}
			d = append(d, c)
		case strings.IndexByte(seps, c) >= 0:
		default:
			return nil, false
		}
	}
	return d, true
}

// luhnOK reports whether digits (ASCII digits only, at least two) pass the Luhn
// (mod 10) check used by payment cards and Canadian SINs.
func luhnOK(digits []byte) bool {
	if len(digits) < 2 {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if !isDigit(c) {
			return false
		}
		v := int(c - '0')
		if double {
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
		double = !double
	}
	return sum%10 == 0
}

// fewDigits reports whether digits (ASCII digits only) hold at most n distinct
// digits: n = 1 means one digit repeated.
func fewDigits(digits []byte, n int) bool {
	var seen [10]bool
	k := 0
	for _, c := range digits {
		if !seen[c-'0'] {
			seen[c-'0'] = true
			k++
		}
	}
	return k <= n
}

// ascendingRun reports whether digits hold a run of n or more consecutive digits
// counting up (0123456, 3456789): a placeholder, not a real number.
func ascendingRun(digits []byte, n int) bool {
	run := 1
	for i := 1; i < len(digits); i++ {
		if digits[i] == digits[i-1]+1 {
			run++
			if run >= n {
				return true
			}
		} else {
			run = 1
		}
	}
	return false
}

// cardIssuer is a range of issuer identification numbers (the first digits of a
// card number) and the lengths its cards have.
type cardIssuer struct {
	lo, hi         int // inclusive, over the first len(digits of lo) digits
	minLen, maxLen int
}

// cardIssuers are the major networks' ranges: Visa, Mastercard, American Express,
// Discover, UnionPay, JCB, Diners Club, Maestro and Mir.
var cardIssuers = []cardIssuer{
	{4, 4, 13, 13}, {4, 4, 16, 16}, {4, 4, 19, 19}, // Visa
	{51, 55, 16, 16}, {2221, 2720, 16, 16}, // Mastercard
	{34, 34, 15, 15}, {37, 37, 15, 15}, // American Express
	{6011, 6011, 16, 19}, {644, 649, 16, 19}, {65, 65, 16, 19}, // Discover
	{62, 62, 16, 19},     // UnionPay
	{3528, 3589, 16, 19}, // JCB
	{36, 36, 14, 19},     // Diners Club International
	{300, 305, 14, 19},   // Diners Club
	{3095, 3095, 14, 19}, // Diners Club
	{38, 39, 14, 19},     // Diners Club
	{5018, 5018, 12, 19}, // Maestro
	{5020, 5020, 12, 19}, // Maestro
	{5038, 5038, 12, 19}, // Maestro
	{5893, 5893, 12, 19}, // Maestro
	{6304, 6304, 12, 19}, // Maestro
	{6759, 6759, 12, 19}, // Maestro UK
	{6761, 6763, 12, 19}, // Maestro
	{2200, 2204, 16, 19}, // Mir
}

// testCards are card numbers that payment providers publish for testing: they are
// documentation, like AKIA...EXAMPLE, and code that uses them must keep working.
var testCards = map[string]bool{
	"4111111111111111": true, "4012888888881881": true, "4222222222222": true,
	"4242424242424242": true, "4000056655665556": true, "4000000000000002": true,
	"4000000000000077": true, "4000000000000093": true, "4000000000009995": true,
	"4000000000003220": true, "4000002500003155": true, "4000000000000341": true,
	"4000000000000069": true, "4000000000000127": true, "4000000000000119": true,
	"4000000000000101": true, "4000000000000010": true, "4005519200000004": true,
	"4009348888881881": true, "4012000033330026": true, "4012000077777777": true,
	"4217651111111119": true, "4500600000000061": true, "4917610000000000": true,
	"5555555555554444": true, "5200828282828210": true, "5105105105105100": true,
	"2223003122003222": true, "5454545454545454": true, "5431111111111111": true,
	"2221000000000009": true, "5425233430109903": true, "2222420000001113": true,
	"378282246310005": true, "371449635398431": true, "378734493671000": true,
	"6011111111111117": true, "6011000990139424": true, "6011000000000004": true,
	"6011981111111113": true, "3056930009020004": true, "36227206271667": true,
	"30569309025904": true, "38520000023237": true, "3566002020360505": true,
	"3530111333300000": true, "3566111111111113": true, "6200000000000005": true,
	"6205500000000000004": true, "6221261111111111": true,
}

// cardOK reports whether b is a payment card number: 12 to 19 digits, optionally in
// groups separated by single spaces or dashes, whose first digits and length match a
// major network, that pass the Luhn check, and that are not a published test number
// or a run of two or three distinct digits.
func cardOK(b []byte) bool {
	var buf [19]byte
	d, ok := digitsOf(buf[:], b, " -")
	if !ok || len(d) < 12 || len(d) > 19 {
		return false
	}
	if !issuerOK(d) || !luhnOK(d) || fewDigits(d, 3) {
		return false
	}
	return !testCards[string(d)]
}

// issuerOK reports whether the digits d start with a known issuer range and have a
// length cards of that range have.
func issuerOK(d []byte) bool {
	for _, is := range cardIssuers {
		if len(d) < is.minLen || len(d) > is.maxLen {
			continue
		}
		n := 1
		for p := 10; p <= is.lo; p *= 10 {
			n++
		}
		v := 0
		for _, c := range d[:n] {
			v = v*10 + int(c-'0')
		}
		if v >= is.lo && v <= is.hi {
			return true
		}
	}
	return false
}

// ibanLengths are the lengths of each country's IBAN (ISO 13616 registry).
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
	"BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
	"DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
	"FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
	"GT": 28, "HN": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
	"IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20,
	"LU": 20, "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20,
	"MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24,
	"PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24,
	"SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25,
	"SV": 28, "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
	"YE": 30,
}

// ibanOK reports whether b is an IBAN, optionally printed in groups of four separated
// by single spaces: a known country code, the length of that country's IBANs, check
// digits 02 to 98, upper-case letters and digits only, and the ISO 7064 mod-97 check.
func ibanOK(b []byte) bool {
	var buf [34]byte
	n := 0
	for i, c := range b {
		if c == ' ' {
			if n == 0 || n%4 != 0 || i+1 == len(b) || b[i+1] == ' ' {
				return false
			}
			continue
		}
		if !(isDigit(c) || c >= 'A' && c <= 'Z') || n == len(buf) {
			return false
		}
		buf[n] = c
		n++
	}
	s := buf[:n]
	if n < 15 || !(s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z') || !isDigit(s[2]) || !isDigit(s[3]) {
		return false
	}
	if ibanLengths[string(s[:2])] != n {
		return false
	}
	if check := int(s[2]-'0')*10 + int(s[3]-'0'); check < 2 || check > 98 {
		return false
	}
	return mod97(s[4:], s[:4]) == 1
}

// mod97 returns the ISO 7064 mod-97-10 remainder of the concatenation a+b, letters
// counting as 10 (A) to 35 (Z).
func mod97(a, b []byte) int {
	r := 0
	for _, part := range [2][]byte{a, b} {
		for _, c := range part {
			if isDigit(c) {
				r = (r*10 + int(c-'0')) % 97
			} else {
				r = (r*100 + int(c-'A'+10)) % 97
			}
		}
	}
	return r
}

// ssnOK reports whether b is a US Social Security number, "AAA-GG-SSSS", with
// dashes, single spaces or nothing between the parts: area not 000, 666 or 900-999,
// group not 00, serial not 0000, and not a number the SSA voided after it was
// published (078-05-1120, 219-09-9999) or a placeholder (123-45-6789, one digit
// repeated).
func ssnOK(b []byte) bool {
	var buf [9]byte
	var d []byte
	switch len(b) {
	case 9:
		d = buf[:0]
		for _, c := range b {
			if !isDigit(c) {
				return false
			}
			d = append(d, c)
		}
	case 11:
		sep := b[3]
		if sep != '-' && sep != ' ' || b[6] != sep {
			return false
		}
		d = append(append(append(buf[:0], b[:3]...), b[4:6]...), b[7:]...)
		for _, c := range d {
			if !isDigit(c) {
				return false
			}
		}
	default:
		return false
	}
	area := string(d[:3])
	if area == "000" || area == "666" || d[0] == '9' || string(d[3:5]) == "00" || string(d[5:]) == "0000" {
		return false
	}
	switch string(d) {
	case "078051120", "219099999", "123456789":
		return false
	}
	return !fewDigits(d, 1)
}

// ninoOK reports whether b is a UK National Insurance number, "AB 12 34 56 C" with or
// without the spaces, either case: two prefix letters HMRC allocates (neither D, F,
// I, Q, U or V, the second not O, and not BG, GB, KN, NK, NT, TN or ZZ), six digits
// that are not 123456 or one digit repeated, and a suffix A to D.
func ninoOK(b []byte) bool {
	var buf [9]byte
	s := buf[:0]
	for i, c := range b {
		if c == ' ' {
			if i == 0 || i+1 == len(b) || b[i-1] == ' ' {
				return false
			}
			continue
		}
		if len(s) == len(buf) {
			return false
		}
		s = append(s, upperASCII(c))
	}
	if len(s) != 9 {
		return false
	}
	p0, p1, suf := s[0], s[1], s[8]
	if !(p0 >= 'A' && p0 <= 'Z' && p1 >= 'A' && p1 <= 'Z') || suf < 'A' || suf > 'D' {
		return false
	}
	if strings.IndexByte("DFIQUV", p0) >= 0 || strings.IndexByte("DFIOQUV", p1) >= 0 {
		return false
	}
	switch string(s[:2]) {
	case "BG", "GB", "KN", "NK", "NT", "TN", "ZZ":
		return false
	}
	for _, c := range s[2:8] {
		if !isDigit(c) {
			return false
		}
	}
	return string(s[2:8]) != "123456" && !fewDigits(s[2:8], 1)
}

// sinOK reports whether b is a Canadian Social Insurance Number: nine digits, as
// "123 456 782", "123-456-782" or plain, not starting with 0 or 8, passing Luhn.
func sinOK(b []byte) bool {
	var buf [9]byte
	d, ok := groupedDigits(buf[:], b, []int{3, 3, 3}, " -")
	if !ok || d[0] == '0' || d[0] == '8' {
		return false
	}
	return luhnOK(d) && !fewDigits(d, 1)
}

// groupedDigits returns the digits of b when b is exactly those digits, either plain
// or in groups of the given sizes split by one separator from seps used throughout.
func groupedDigits(buf []byte, b []byte, groups []int, seps string) ([]byte, bool) {
	total := 0
	for _, g := range groups {
		total += g
	}
	if total > len(buf) {
		return nil, false
	}
	d := buf[:0]
	switch len(b) {
	case total:
		for _, c := range b {
			if !isDigit(c) {
				return nil, false
			}
			d = append(d, c)
		}
		return d, true
	case total + len(groups) - 1:
		sep := byte(0)
		i := 0
		for k, g := range groups {
			if k > 0 {
				c := b[i]
				if strings.IndexByte(seps, c) < 0 || sep != 0 && c != sep {
					return nil, false
				}
				sep = c
				i++
			}
			for j := 0; j < g; j++ {
				if !isDigit(b[i]) {
					return nil, false
				}
				d = append(d, b[i])
				i++
			}
		}
		return d, true
	}
	return nil, false
}

// bsnOK reports whether b is a Dutch citizen service number (BSN): nine digits, plain
// or as "1234.56.782", passing the "11-proof" (9*d1 + 8*d2 + ... + 2*d8 - d9 is a
// multiple of 11), not all one digit.
func bsnOK(b []byte) bool {
	var buf [9]byte
	d, ok := groupedDigits(buf[:], b, []int{4, 2, 3}, ".")
	if !ok {
		return false
	}
	sum := 0
	for i := 0; i < 8; i++ {
		sum += (9 - i) * int(d[i]-'0')
	}
	sum -= int(d[8] - '0')
	return sum%11 == 0 && !fewDigits(d, 1)
}

// dniLetters maps a DNI number mod 23 to its control letter.
const dniLetters = "TRWAGMYFPDXBNJZSQVHLCKE"

// dniOK reports whether b is a Spanish DNI ("12345678Z") or NIE ("X1234567L"), with
// an optional dash or space before the letter, either case: the control letter is
// the number mod 23 (an NIE's X, Y or Z standing for 0, 1 or 2).
func dniOK(b []byte) bool {
	var buf [10]byte
	s := buf[:0]
	for i, c := range b {
		if (c == '-' || c == ' ') && i == len(b)-2 && i > 0 {
			continue
		}
		if len(s) == len(buf) {
			return false
		}
		s = append(s, upperASCII(c))
	}
	if len(s) != 9 {
		return false
	}
	n := 0
	switch s[0] {
	case 'X', 'Y', 'Z':
		n = int(s[0] - 'X')
	default:
		if !isDigit(s[0]) {
			return false
		}
		n = int(s[0] - '0')
	}
	for _, c := range s[1:8] {
		if !isDigit(c) {
			return false
		}
		n = n*10 + int(c-'0')
	}
	if isDigit(s[0]) && fewDigits(s[:8], 1) {
		return false
	}
	return s[8] == dniLetters[n%23]
}

func upperASCII(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
}

// cpfOK reports whether b is a Brazilian CPF: eleven digits, as "123.456.789-09" or
// plain, whose two check digits follow the mod-11 rule, not all one digit.
func cpfOK(b []byte) bool {
	var buf [11]byte
	var d []byte
	switch len(b) {
	case 11:
		var ok bool
		if d, ok = groupedDigits(buf[:], b, []int{11}, ""); !ok {
			return false
		}
	case 14:
		if b[3] != '.' || b[7] != '.' || b[11] != '-' {
			return false
		}
		d = buf[:0]
		for i, c := range b {
			if i == 3 || i == 7 || i == 11 {
				continue
			}
			if !isDigit(c) {
				return false
			}
			d = append(d, c)
		}
	default:
		return false
	}
	if fewDigits(d, 1) {
		return false
	}
	for k := 9; k <= 10; k++ {
		sum := 0
		for i := 0; i < k; i++ {
			sum += (k + 1 - i) * int(d[i]-'0')
		}
		check := sum * 10 % 11 % 10
		if int(d[k]-'0') != check {
			return false
		}
	}
	return true
}

// Verhoeff tables: the dihedral group D5 multiplication and the position permutation.
var (
	verhoeffD = [10][10]byte{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 2, 3, 4, 0, 6, 7, 8, 9, 5},
		{2, 3, 4, 0, 1, 7, 8, 9, 5, 6}, {3, 4, 0, 1, 2, 8, 9, 5, 6, 7},
		{4, 0, 1, 2, 3, 9, 5, 6, 7, 8}, {5, 9, 8, 7, 6, 0, 4, 3, 2, 1},
		{6, 5, 9, 8, 7, 1, 0, 4, 3, 2}, {7, 6, 5, 9, 8, 2, 1, 0, 4, 3},
		{8, 7, 6, 5, 9, 3, 2, 1, 0, 4}, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0},
	}
	verhoeffP = [8][10]byte{
		{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {1, 5, 7, 6, 2, 8, 3, 0, 9, 4},
		{5, 8, 0, 3, 7, 9, 6, 1, 4, 2}, {8, 9, 1, 6, 0, 4, 3, 5, 2, 7},
		{9, 4, 5, 3, 1, 2, 6, 8, 7, 0}, {4, 2, 8, 6, 5, 7, 3, 9, 0, 1},
		{2, 7, 9, 3, 8, 0, 6, 4, 1, 5}, {7, 0, 4, 6, 9, 1, 3, 2, 5, 8},
	}
)

// verhoeffOK reports whether digits (ASCII digits only) pass the Verhoeff check.
func verhoeffOK(digits []byte) bool {
	if len(digits) == 0 {
		return false
	}
	c := byte(0)
	for i := len(digits) - 1; i >= 0; i-- {
		if !isDigit(digits[i]) {
			return false
		}
		c = verhoeffD[c][verhoeffP[(len(digits)-1-i)%8][digits[i]-'0']]
	}
	return c == 0
}

// aadhaarOK reports whether b is an Indian Aadhaar number: twelve digits, as
// "2345 6789 0123", "2345-6789-0123" or plain, not starting with 0 or 1, passing the
// Verhoeff check, not all one digit.
func aadhaarOK(b []byte) bool {
	var buf [12]byte
	d, ok := groupedDigits(buf[:], b, []int{4, 4, 4}, " -")
	if !ok || d[0] < '2' {
		return false
	}
	return verhoeffOK(d) && !fewDigits(d, 1)
}

// e164Codes holds the first digits of the E.164 country codes: "1" and "7" are codes of
// one digit, the two-digit entries are codes, and a three-digit entry "21x" stands for
// the codes 210 to 219 (a zone some of whose codes are spare).
var e164Codes = func() map[string]bool {
	m := map[string]bool{"1": true, "7": true}
	for _, c := range []string{
		"20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45",
		"46", "47", "48", "49", "51", "52", "53", "54", "55", "56", "57", "58", "60", "61",
		"62", "63", "64", "65", "66", "81", "82", "84", "86", "90", "91", "92", "93", "94",
		"95", "98",
	} {
		m[c] = true
	}
	for _, z := range []string{"21", "22", "23", "24", "25", "26", "29", "35", "37", "38", "42", "50", "59", "67", "68", "69", "80", "85", "87", "88", "96", "97", "99"} {
		for d := byte('0'); d <= '9'; d++ {
			m[z+string(d)] = true
		}
	}
	return m
}()

// phoneOK reports whether b is a phone number: in international form (+, a country
// code, 9 to 15 digits in all) or, without the +, a national number of 7 to 15 digits.
// Digits may be grouped by single spaces, dashes or dots and the area code put in
// parentheses. It rejects what only looks like a number: dates (2024-01-15,
// 15.01.2024), IPv4 addresses, one repeated digit, and counting runs (1234567). A
// North American number (+1) must have ten digits after the 1 with area code and
// exchange starting 2-9, and not be a 555-01xx number reserved for fiction; UK drama
// numbers (020 7946 0xxx, 07700 900xxx) are rejected too.
func phoneOK(b []byte) bool {
	if len(b) == 0 || len(b) > 32 {
		return false
	}
	intl := b[0] == '+'
	body := b
	if intl {
		body = b[1:]
	}
	var buf [15]byte
	d := buf[:0]
	var groups [8]int
	ng, cur := 0, 0
	var sep byte
	parens := 0
	push := func() bool {
		if cur > 0 {
			if ng == len(groups) {
				return false
			}
			groups[ng] = cur
			ng++
			cur = 0
		}
		return true
	}
	for i, c := range body {
		prev := byte(0)
		if i > 0 {
			prev = body[i-1]
		}
		switch {
		case isDigit(c):
			if len(d) == len(buf) {
				return false
			}
			d = append(d, c)
			cur++
			continue
		case c == '(':
			if parens != 0 || i > 0 && !isDigit(prev) && prev != ' ' {
				return false
			}
			parens = 1
		case c == ')':
			if parens != 1 || cur == 0 {
				return false
			}
			parens = 2
		case c == ' ' || c == '-' || c == '.':
			if !isDigit(prev) && !(prev == ')' && c != '.') {
				return false
			}
			if c != ' ' {
				if sep != 0 && sep != c {
					return false
				}
				sep = c
			}
		default:
			return false
		}
		if !push() {
			return false
		}
	}
	if cur == 0 || parens == 1 || !push() {
		return false
	}
	if fewDigits(d, 1) || ascendingRun(d, 7) {
		return false
	}
	if sep == '.' && ng == 4 && groups[0] <= 3 && groups[1] <= 3 && groups[2] <= 3 && groups[3] <= 3 {
		return false // IPv4
	}
	if ng == 3 && (groups[0] == 4 && groups[1] == 2 && groups[2] == 2 || groups[0] == 2 && groups[1] == 2 && groups[2] == 4) {
		return false // date
	}
	if !intl {
		return len(d) >= 7 && len(d) <= 15
	}
	if len(d) < 9 || len(d) > 15 {
		return false
	}
	switch {
	case d[0] == '1':
		return nanpOK(d[1:])
	case d[0] == '7':
		return len(d) == 11
	case string(d[:2]) == "44":
		return ukOK(d[2:])
	}
	return e164Codes[string(d[:2])] || len(d) >= 3 && e164Codes[string(d[:3])]
}

// nanpOK reports whether d (digits after the country code 1) is a North American
// number: NPA-NXX-XXXX with NPA and NXX starting 2-9, not 555-0100 to 555-0199.
func nanpOK(d []byte) bool {
	if len(d) != 10 || d[0] < '2' || d[3] < '2' {
		return false
	}
	return !(string(d[3:6]) == "555" && d[6] == '0' && d[7] == '1')
}

// ukOK reports whether d (digits after the country code 44) is a UK number that is
// not an Ofcom drama number.
func ukOK(d []byte) bool {
	if len(d) < 9 || len(d) > 10 {
		return false
	}
	s := string(d)
	return !(len(s) == 10 && (s[:7] == "2079460" || s[:7] == "7700900"))
}

// emailOK reports whether b is an e-mail address a person or a team reads: a local
// part of 1 to 64 characters of [A-Za-z0-9._%+-] not starting or ending with a dot,
// and a domain of two or more labels whose last is alphabetic, 2 to 24 letters, and
// not a file extension (icon@2x.png). Addresses that belong to no one are not PII:
// documentation domains (example.com, *.test, *.invalid, *.localhost, *.local) and
// no-reply or git service addresses.
func emailOK(b []byte) bool {
	at := -1
	for i, c := range b {
		if c == '@' {
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	if at < 1 || at > 64 || len(b)-at-1 > 253 {
		return false
	}
	local, domain := b[:at], b[at+1:]
	if local[0] == '.' || local[len(local)-1] == '.' {
		return false
	}
	for _, c := range local {
		if !(isAlnum(c) || strings.IndexByte("._%+-", c) >= 0) {
			return false
		}
	}
	labels, start := 0, 0
	for i := 0; i <= len(domain); i++ {
		if i < len(domain) && domain[i] != '.' {
			c := domain[i]
			if !(isAlnum(c) || c == '-') {
				return false
			}
			continue
		}
		l := domain[start:i]
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		labels++
		start = i + 1
	}
	tld := domain[bytes.LastIndexByte(domain, '.')+1:]
	if labels < 2 || len(tld) < 2 || len(tld) > 24 {
		return false
	}
	for _, c := range tld {
		if !isLetter(c) {
			return false
		}
	}
	var buf [256]byte
	low := lower(buf[:], b)
	ld := low[at+1:]
	for _, x := range fileTLDs {
		if string(low[len(low)-len(tld):]) == x {
			return false
		}
	}
	for _, dom := range nobodyDomains {
		if string(ld) == dom || len(ld) > len(dom) && ld[len(ld)-len(dom)-1] == '.' && string(ld[len(ld)-len(dom):]) == dom {
			return false
		}
	}
	for _, l := range nobodyLocals {
		if string(low[:at]) == l {
			return false
		}
	}
	return true
}

// fileTLDs are file extensions that look like top-level domains in names such as
// icon@2x.png or pkg@latest.tgz.
var fileTLDs = []string{
	"png", "jpg", "jpeg", "gif", "svg", "webp", "ico", "bmp", "avif", "js", "mjs", "cjs",
	"ts", "tsx", "jsx", "css", "scss", "json", "map", "html", "htm", "txt", "lock",
	"yaml", "yml", "toml", "tgz", "gz", "zip", "wasm", "woff", "woff2", "ttf", "pdf",
	"mp3", "mp4", "webm", "go", "rb", "java", "kt", "swift", "vue", "md",
}

// nobodyDomains are domains whose mailboxes belong to no person: reserved for
// documentation and testing (RFC 2606, RFC 6761) or used by services for commit
// metadata.
var nobodyDomains = []string{
	"example.com", "example.org", "example.net", "example", "test", "invalid",
	"localhost", "local", "users.noreply.github.com", "noreply.github.com",
	"noreply.gitlab.com",
}

// nobodyLocals are local parts of service mailboxes.
var nobodyLocals = []string{"noreply", "no-reply", "donotreply", "do-not-reply", "git", "mailer-daemon", "postmaster"}
