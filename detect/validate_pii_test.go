package detect

import (
	"bytes"
	"regexp"
	"regexp/syntax"
	"strings"
	"testing"
)

func TestValidators(t *testing.T) {
	visa := luhnComplete("4" + fake("v-visa", csDigits, 14))
	iban := fakeIBAN("DE", "v-iban")
	tests := []struct {
		name string
		fn   func([]byte) bool
		in   string
		want bool
	}{
		{"luhn ok", luhnOK, "79927398713", true},
		{"luhn bad", luhnOK, "79927398710", false},
		{"luhn non-digit", luhnOK, "7992739871a", false},
		{"luhn short", luhnOK, "0", false},
		{"card visa", cardOK, visa, true},
		{"card grouped", cardOK, group4(visa, " "), true},
		{"card test number", cardOK, "4111111111111111", false},
		{"card few digits", cardOK, "4444444444444448", false},
		{"card unknown issuer", cardOK, luhnComplete("9" + fake("v-9", csDigits, 14)), false},
		{"card amex length", cardOK, luhnComplete("37" + fake("v-amex", csDigits, 14)), false},
		{"card too long", cardOK, luhnComplete("4" + fake("v-long", csDigits, 19)), false},
		{"iban ok", ibanOK, iban, true},
		{"iban grouped", ibanOK, group4(iban, " "), true},
		{"iban bad groups", ibanOK, iban[:6] + " " + iban[6:], false},
		{"iban lowercase", ibanOK, strings.ToLower(iban), false},
		{"iban wrong length", ibanOK, iban + "0", false},
		{"iban unknown country", ibanOK, "QQ" + iban[2:], false},
		{"iban check 00", ibanOK, "DE00" + iban[4:], false},
		{"ssn ok", ssnOK, "170-34-0737", true},
		{"ssn plain", ssnOK, "170340737", true},
		{"ssn spaces", ssnOK, "170 34 0737", true},
		{"ssn mixed", ssnOK, "170-34 0737", false},
		{"ssn area 666", ssnOK, "666-34-0737", false},
		{"ssn area 9xx", ssnOK, "912-34-0737", false},
		{"ssn group 00", ssnOK, "170-00-0737", false},
		{"ssn serial 0000", ssnOK, "170-34-0000", false},
		{"ssn woolworth", ssnOK, "078-05-1120", false},
		{"ssn one digit", ssnOK, "111-11-1111", false},
		{"nino ok", ninoOK, "JG103759A", true},
		{"nino spaced lower", ninoOK, "jg 10 37 59 a", true},
		{"nino bad prefix", ninoOK, "GB103759A", false},
		{"nino bad first", ninoOK, "DA103759A", false},
		{"nino bad second", ninoOK, "AO103759A", false},
		{"nino bad suffix", ninoOK, "JG103759E", false},
		{"nino placeholder", ninoOK, "JG123456A", false},
		{"sin starts 0", sinOK, "046454286", false}, // passes Luhn, but 0 is not allocated
		{"sin spaced", sinOK, "130 692 544", true},
		{"sin luhn", sinOK, "130692544", true},
		{"sin luhn bad", sinOK, "130692545", false},
		{"sin 8", sinOK, luhnComplete("80000123"), false},
		{"bsn ok", bsnOK, "111222333", true},
		{"bsn dotted", bsnOK, "1112.22.333", true},
		{"bsn bad", bsnOK, "111222334", false},
		{"dni ok", dniOK, "12345678Z", true},
		{"dni lower dash", dniOK, "12345678-z", true},
		{"dni bad letter", dniOK, "12345678A", false},
		{"nie ok", dniOK, "X1234567L", true},
		{"dni zeros", dniOK, "00000000T", false},
		{"cpf ok", cpfOK, "52998224725", true},
		{"cpf formatted", cpfOK, "529.982.247-25", true},
		{"cpf bad", cpfOK, "529.982.247-26", false},
		{"cpf repeated", cpfOK, "111.111.111-11", false},
		{"aadhaar ok", aadhaarOK, fakeAadhaar("v-a"), true},
		{"aadhaar starts 1", aadhaarOK, "123412341234", false},
		{"verhoeff known", verhoeffOK, "2363", true},
		{"verhoeff bad", verhoeffOK, "2364", false},
		{"phone e164 uk", phoneOK, "+44 7911 123456", true},
		{"phone e164 us", phoneOK, "+1 (415) 283-9157", true},
		{"phone e164 us paren tight", phoneOK, "+1(415)283-9157", true},
		{"phone us fiction", phoneOK, "+1 415 555 0123", false},
		{"phone us short", phoneOK, "+1 415 234 567", false},
		{"phone bad country", phoneOK, "+999 123 456 789", false},
		{"phone national", phoneOK, "030 83749261", true},
		{"phone date", phoneOK, "2024-01-15", false},
		{"phone ip", phoneOK, "192.168.100.200", false},
		{"phone mixed seps", phoneOK, "030-123.4567", false},
		{"phone double space", phoneOK, "030  12345678", false},
		{"phone counting", phoneOK, "0123456789", false},
		{"phone too long", phoneOK, "+44 1234 5678 9012 3456", false},
		{"phone unbalanced", phoneOK, "(030 12345678", false},
		{"phone uk drama", phoneOK, "+44 20 7946 0123", false},
		{"email ok", emailOK, "ana.ruiz@northwind.io", true},
		{"email plus", emailOK, "ana+x@mail.northwind.co.uk", true},
		{"email example", emailOK, "ana@example.com", false},
		{"email sub example", emailOK, "ana@mail.example.org", false},
		{"email test tld", emailOK, "ana@shop.test", false},
		{"email file", emailOK, "logo@2x.png", false},
		{"email numeric tld", emailOK, "pkg@1.2.3", false},
		{"email one label", emailOK, "root@localhost", false},
		{"email dot start", emailOK, ".ana@northwind.io", false},
		{"email two ats", emailOK, "a@b@northwind.io", false},
		{"email noreply", emailOK, "noreply@northwind.io", false},
		{"email label dash", emailOK, "ana@-northwind.io", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.fn([]byte(tt.in)); got != tt.want {
				t.Errorf("got %v for %q, want %v", got, tt.in, tt.want)
			}
		})
	}
}

// oneDigitOff reports, for an input ok accepts, whether changing any one digit to any
// other makes ok reject it: the promise of Luhn, mod 97, the 11-proof, mod 23 and
// Verhoeff.
func oneDigitOff(t *testing.T, ok func([]byte) bool, b []byte) {
	t.Helper()
	c := bytes.Clone(b)
	for i, x := range b {
		if !isDigit(x) {
			continue
		}
		for d := byte('0'); d <= '9'; d++ {
			if d == x {
				continue
			}
			c[i] = d
			if ok(c) {
				t.Fatalf("digit %d changed from %c to %c: got accepted, want rejected", i, x, d)
			}
		}
		c[i] = x
	}
}

// fuzzValidator runs ok on arbitrary input; on inputs it accepts it checks shape and,
// when checksum is set, oneDigitOff.
func fuzzValidator(f *testing.F, ok func([]byte) bool, checksum bool, shape func([]byte) bool, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		orig := bytes.Clone(b)
		if !ok(b) {
			return
		}
		if !bytes.Equal(b, orig) {
			t.Fatal("got input modified, want it untouched")
		}
		if shape != nil && !shape(b) {
			t.Fatalf("accepted %q, which has the wrong shape", b)
		}
		if checksum {
			oneDigitOff(t, ok, b)
		}
	})
}

// digitCount counts ASCII digits, and reports whether b holds only digits and seps.
func digitCount(b []byte, seps string) (int, bool) {
	n := 0
	for _, c := range b {
		switch {
		case isDigit(c):
			n++
		case strings.IndexByte(seps, c) < 0:
			return n, false
		}
	}
	return n, true
}

// countDigits counts the ASCII digits of b.
func countDigits(b []byte) int {
	n := 0
	for _, c := range b {
		if isDigit(c) {
			n++
		}
	}
	return n
}

func digitsIn(seps string, lo, hi int) func([]byte) bool {
	return func(b []byte) bool {
		n, ok := digitCount(b, seps)
		return ok && n >= lo && n <= hi
	}
}

func FuzzLuhn(f *testing.F) {
	fuzzValidator(f, luhnOK, true, digitsIn("", 2, 1<<20), "79927398713", "0", "00", "4111111111111111")
}

func FuzzCard(f *testing.F) {
	fuzzValidator(f, cardOK, true, func(b []byte) bool {
		var buf [19]byte
		d, ok := digitsOf(buf[:], b, " -")
		return ok && len(d) >= 12 && len(d) <= 19 && luhnOK(d) && issuerOK(d)
	}, luhnComplete("4"+fake("fz", csDigits, 14)), "4111 1111 1111 1111", "3782-822463-10005", "5555555555554444")
}

func FuzzIBAN(f *testing.F) {
	fuzzValidator(f, ibanOK, true, func(b []byte) bool {
		s := bytes.ReplaceAll(b, []byte(" "), nil)
		return len(s) >= 2 && ibanLengths[string(s[:2])] == len(s)
	}, fakeIBAN("DE", "fz"), group4(fakeIBAN("GB", "fz"), " "), "NO9386011117947", "DE00")
}

func FuzzSSN(f *testing.F) {
	fuzzValidator(f, ssnOK, false, digitsIn("- ", 9, 9), "170-34-0737", "170340737", "666-12-3456", "078-05-1120")
}

func FuzzNINO(f *testing.F) {
	fuzzValidator(f, ninoOK, false, func(b []byte) bool {
		return countDigits(b) == 6
	}, "JG103759A", "jg 10 37 59 a", "QQ123456C")
}

func FuzzSIN(f *testing.F) {
	fuzzValidator(f, sinOK, true, digitsIn(" -", 9, 9), "046454286", "130 692 544", "130-692-544")
}

func FuzzBSN(f *testing.F) {
	fuzzValidator(f, bsnOK, true, digitsIn(".", 9, 9), "111222333", "1112.22.333")
}

func FuzzDNI(f *testing.F) {
	fuzzValidator(f, dniOK, true, func(b []byte) bool {
		n := countDigits(b)
		return n == 7 || n == 8
	}, "12345678Z", "X1234567L", "12345678-z")
}

func FuzzCPF(f *testing.F) {
	// The CPF check digit folds 10 into 0, so one changed digit can go unnoticed: no
	// checksum property here.
	fuzzValidator(f, cpfOK, false, digitsIn(".-", 11, 11), "52998224725", "529.982.247-25", "111.111.111-11")
}

func FuzzAadhaar(f *testing.F) {
	fuzzValidator(f, aadhaarOK, true, digitsIn(" -", 12, 12), fakeAadhaar("fz"), "2345 6789 0124")
}

func FuzzVerhoeff(f *testing.F) {
	fuzzValidator(f, verhoeffOK, true, digitsIn("", 1, 1<<20), "2363", "0", fakeAadhaar("fz2"))
}

func FuzzPhone(f *testing.F) {
	fuzzValidator(f, phoneOK, false, digitsIn(" -.()+", 7, 15), "+44 7911 123456", "+1 (415) 234-5678", "030 12345678", "2024-01-15", "+1(415)234-5678")
}

func FuzzEmail(f *testing.F) {
	fuzzValidator(f, emailOK, false, func(b []byte) bool {
		return bytes.Count(b, []byte("@")) == 1 && len(b) <= 64+1+253
	}, "ana.ruiz@northwind.io", "logo@2x.png", "a@b.c", "x@example.com")
}

// FuzzScanPII scans arbitrary input with the PII class on: findings stay in range,
// sorted and disjoint, and each lies where its rule's validator accepts it.
func FuzzScanPII(f *testing.F) {
	for _, r := range PIIRules() {
		for _, s := range append(r.TruePositives, r.FalsePositives...) {
			f.Add([]byte(s.Text))
		}
	}
	d, err := New(Config{PII: true})
	if err != nil {
		f.Fatal(err)
	}
	valid := map[string]func([]byte) bool{
		"pii-email": emailOK, "pii-phone-intl": phoneOK, "pii-phone": phoneOK, "pii-card": cardOK,
		"pii-iban": ibanOK, "pii-us-ssn": ssnOK, "pii-us-ssn-labeled": ssnOK, "pii-uk-nino": ninoOK,
		"pii-ca-sin": sinOK, "pii-nl-bsn": bsnOK, "pii-es-dni": dniOK, "pii-br-cpf": cpfOK,
		"pii-in-aadhaar": aadhaarOK,
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		fs := d.Scan(in)
		checkFindings(t, fs, len(in))
		for _, fd := range fs {
			if ok := valid[fd.RuleID]; ok != nil && !ok(in[fd.Start:fd.End]) {
				t.Fatalf("%s[%d:%d]: got a span its validator rejects", fd.RuleID, fd.Start, fd.End)
			}
		}
	})
}

// FuzzDeriveKeywords checks the promise of DeriveKeywords on arbitrary regexes and
// ASCII inputs: every match starts with a derived keyword, ASCII case folded.
func FuzzDeriveKeywords(f *testing.F) {
	for _, s := range []string{`acme_[a-z0-9]{4}`, `\bgh[po]_\w+`, `(?i)api[_-]?key=\w*`, `(?:sk|rk)_(?:live|test)_\w+`, `a{2,}b`, `(ab){3}c?`} {
		f.Add(s, "xx acme_ab12 ghp_x API-KEY= sk_live_q aaab abababc")
	}
	f.Fuzz(func(t *testing.T, expr, input string) {
		kws, err := DeriveKeywords(expr)
		if err != nil {
			return
		}
		if _, err := syntax.Parse(expr, syntax.Perl); err != nil {
			t.Fatalf("got keywords for a regex that does not parse")
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return // parses but too large to compile
		}
		for i := 0; i < len(input); i++ {
			if input[i] >= 0x80 {
				return // keywords fold ASCII only
			}
		}
		for _, kw := range kws {
			if len(kw) < 2 {
				t.Fatalf("got keyword %q shorter than 2 bytes", kw)
			}
		}
		for _, m := range re.FindAllStringIndex(input, -1) {
			s := strings.ToLower(input[m[0]:])
			found := false
			for _, kw := range kws {
				found = found || strings.HasPrefix(s, kw)
			}
			if !found {
				t.Fatalf("match at %d of %q starts with none of %q", m[0], expr, kws)
			}
		}
	})
}
