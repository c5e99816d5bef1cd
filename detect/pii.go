package detect

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Token classes of the PII rules.
const (
	ClassEmail      = "email"
	ClassPhone      = "phone"
	ClassCard       = "card"
	ClassIBAN       = "iban"
	ClassNationalID = "nationalid"
)

// PIIRules returns the rules of the personal data class, a fresh copy on each call:
// e-mail addresses, phone numbers, payment card numbers, IBANs and national
// identity numbers (US SSN, UK NINO, Canadian SIN, Dutch BSN, Spanish DNI/NIE,
// Brazilian CPF, Indian Aadhaar). They are not in DefaultRules: Config.PII adds
// them.
//
// Each rule validates what it finds offline (Luhn and issuer ranges for cards,
// mod-97 and country lengths for IBANs, each national number's own checksum or
// allocation rules) and rejects what belongs to nobody: documentation domains,
// fictional phone ranges, published test card numbers, placeholder numbers. National
// numbers without a checksum of their own and phone numbers in national format are
// taken only next to a label ("SSN:", "phone": ...), so dates, versions, timestamps
// and ids do not match; the shapes distinctive enough to stand alone (dashed SSN,
// "(NXX) NXX-XXXX", "+" international numbers, cards, IBANs, e-mail) need none.
func PIIRules() []Rule {
	return append(append(contactRules(), financeRules()...), nationalIDRules()...)
}

// ctxGap is what may stand between a label and its value: quotes, blanks, ':', '=',
// '=>', and "is", "at" or "on".
const ctxGap = `[\s"':=>]{1,8}(?:(?:is|at|on)\s+["']?)?`

// labeled returns a pattern for a value right after one of the labels keys (an
// alternation), with an optional suffix such as "_number", at a word start.
func labeled(keys, value string) string {
	return `(?i)(?:\b|_)(?:` + keys + `)(?:[ _.-]?(?:phone|number|num|no|nr|id)){0,2}` + ctxGap +
		`(?P<secret>` + value + `)(?:[^0-9A-Za-z]|$)`
}

// Keyword sets of the standalone PII shapes.
var (
	// emailKeywords are "@" and the first two bytes of a domain.
	emailKeywords = func() []string {
		var kws []string
		for _, a := range "abcdefghijklmnopqrstuvwxyz0123456789" {
			for _, b := range "abcdefghijklmnopqrstuvwxyz0123456789.-" {
				kws = append(kws, "@"+string(a)+string(b))
			}
		}
		return kws
	}()
	// intlPhoneKeywords are "+", the first digit of a country code and what follows.
	intlPhoneKeywords = func() []string {
		var kws []string
		for a := '1'; a <= '9'; a++ {
			for _, b := range "0123456789 (.-" {
				kws = append(kws, "+"+string(a)+string(b))
			}
		}
		return kws
	}()
	// usPhoneKeywords are "(" and the first two digits of an area code.
	usPhoneKeywords = func() []string {
		var kws []string
		for a := '2'; a <= '9'; a++ {
			for b := '0'; b <= '9'; b++ {
				kws = append(kws, "("+string(a)+string(b))
			}
		}
		return kws
	}()
	// cardKeywords are the first three digits of every issuer range.
	cardKeywords = func() []string {
		seen := map[string]bool{}
		var kws []string
		for _, is := range cardIssuers {
			lo, hi := strconv.Itoa(is.lo), strconv.Itoa(is.hi)
			for v := 100; v <= 999; v++ {
				s := strconv.Itoa(v)
				// s covers the range if some number starting with s is in it.
				if cmpPrefix(s, lo) >= 0 && cmpPrefix(s, hi) <= 0 && !seen[s] {
					seen[s] = true
					kws = append(kws, s)
				}
			}
		}
		return kws
	}()
	// ibanKeywords are a country code and the first check digit.
	ibanKeywords = func() []string {
		var kws []string
		for _, cc := range slices.Sorted(maps.Keys(ibanLengths)) {
			for d := '0'; d <= '9'; d++ {
				kws = append(kws, cc+string(d))
			}
		}
		return kws
	}()
	// ssnKeywords are the two group digits of an SSN and the dash after them.
	ssnKeywords = func() []string {
		var kws []string
		for v := 0; v < 100; v++ {
			kws = append(kws, strconv.Itoa(v/10)+strconv.Itoa(v%10)+"-")
		}
		return kws
	}()
)

// cmpPrefix compares the three-digit s with bound b over their common length: the
// numbers starting with s are below, overlapping or above those starting with b.
func cmpPrefix(s, b string) int {
	n := min(len(s), len(b))
	return strings.Compare(s[:n], b[:n])
}

// noLeft reports whether the byte before in[i] lets a number or address start at i.
func noLeft(in []byte, i int, also string) bool {
	if i == 0 {
		return true
	}
	c := in[i-1]
	return !isAlnum(c) && c != '_' && strings.IndexByte(also, c) < 0
}

// noRight reports whether the byte at in[i] lets a number end before i.
func noRight(in []byte, i int, also string) bool {
	if i >= len(in) {
		return true
	}
	c := in[i]
	return !isAlnum(c) && c != '_' && strings.IndexByte(also, c) < 0
}

func isEmailLocal(c byte) bool { return isAlnum(c) || strings.IndexByte("._%+-", c) >= 0 }

// matchEmail matches an e-mail address around the keyword "@xy".
func matchEmail(in []byte, ks, _ int) (int, int, bool) {
	s := ks
	for s > 0 && ks-s <= 64 && isEmailLocal(in[s-1]) {
		s--
	}
	if ks-s > 64 {
		return 0, 0, false
	}
	for s < ks && in[s] == '.' {
		s++
	}
	if s == ks || s > 0 && (in[s-1] == '/' || in[s-1] == '@') {
		return 0, 0, false
	}
	// user@host inside a URL (scheme://user@host) is not a mailbox.
	for i := s - 1; i >= 2 && s-i < 256 && !isSpace(in[i]) && in[i] != '"' && in[i] != '\''; i-- {
		if in[i] == '/' && in[i-1] == '/' && in[i-2] == ':' {
			return 0, 0, false
		}
	}
	e := ks + 1
	for e < len(in) && e-ks <= 254 && (isAlnum(in[e]) || in[e] == '.' || in[e] == '-') {
		e++
	}
	if e < len(in) && (in[e] == '@' || in[e] == '_' || e-ks > 254) {
		return 0, 0, false
	}
	for e > ks+1 && (in[e-1] == '.' || in[e-1] == '-') {
		e--
	}
	if !emailOK(in[s:e]) {
		return 0, 0, false
	}
	return s, e, true
}

// maxPhone bounds a phone number with its separators.
const maxPhone = 32

// matchIntlPhone matches "+" and an international number at the keyword.
func matchIntlPhone(in []byte, ks, _ int) (int, int, bool) {
	if !noLeft(in, ks, ".+-)") {
		return 0, 0, false
	}
	end := -1
	i := ks + 1
	for ; i < len(in) && i-ks <= maxPhone; i++ {
		c := in[i]
		if isDigit(c) {
			end = i + 1
			continue
		}
		if c == ')' {
			continue
		}
		if (c == ' ' || c == '-' || c == '.' || c == '(') && i+1 < len(in) && (isDigit(in[i+1]) || in[i+1] == '(') {
			continue
		}
		break
	}
	if end < 0 || i-ks > maxPhone || !noRight(in, end, "") {
		return 0, 0, false
	}
	if end < len(in) && in[end] == ')' {
		end++
	}
	if !phoneOK(in[ks:end]) {
		return 0, 0, false
	}
	return ks, end, true
}

// matchUSPhone matches "(NXX) NXX-XXXX" or "(NXX)NXX-XXXX" at the keyword "(".
func matchUSPhone(in []byte, ks, _ int) (int, int, bool) {
	if !noLeft(in, ks, "") {
		return 0, 0, false
	}
	i := ks + 1
	digits := func(n int) bool {
		for j := 0; j < n; j++ {
			if i >= len(in) || !isDigit(in[i]) {
				return false
			}
			i++
		}
		return true
	}
	var d [10]byte
	if !digits(3) || i >= len(in) || in[i] != ')' {
		return 0, 0, false
	}
	copy(d[:3], in[ks+1:i])
	i++
	if i < len(in) && in[i] == ' ' {
		i++
	}
	x := i
	if !digits(3) || i >= len(in) || in[i] != '-' {
		return 0, 0, false
	}
	copy(d[3:6], in[x:i])
	i++
	x = i
	if !digits(4) || !noRight(in, i, "-") {
		return 0, 0, false
	}
	copy(d[6:], in[x:i])
	if !nanpOK(d[:]) || fewDigits(d[:], 1) {
		return 0, 0, false
	}
	return ks, i, true
}

// matchCard matches a payment card number starting at the keyword: 12 to 19 digits,
// plain or grouped by single spaces or dashes (the first group four digits).
func matchCard(in []byte, ks, _ int) (int, int, bool) {
	if !noLeft(in, ks, ".-+") {
		return 0, 0, false
	}
	i, n, group := ks, 0, 0
	var sep byte
	for i < len(in) {
		c := in[i]
		if isDigit(c) {
			n++
			group++
			i++
			if n > 19 {
				return 0, 0, false
			}
			continue
		}
		if (c == ' ' || c == '-') && (sep == 0 || c == sep) && i+1 < len(in) && isDigit(in[i+1]) {
			if sep == 0 && group != 4 || group < 3 || group > 6 {
				return 0, 0, false
			}
			sep = c
			group = 0
			i++
			continue
		}
		break
	}
	if n < 12 || sep != 0 && (group < 3 || group > 6) {
		return 0, 0, false
	}
	if !noRight(in, i, "") || i+1 < len(in) && (in[i] == '.' || in[i] == ',') && isDigit(in[i+1]) {
		return 0, 0, false
	}
	if !cardOK(in[ks:i]) {
		return 0, 0, false
	}
	return ks, i, true
}

// matchIBAN matches an IBAN at the keyword (its country code and first check digit),
// plain or in groups of four separated by single spaces.
func matchIBAN(in []byte, ks, _ int) (int, int, bool) {
	if !noLeft(in, ks, "") || ks+2 > len(in) {
		return 0, 0, false
	}
	want := ibanLengths[string(in[ks:ks+2])]
	i, n := ks, 0
	for i < len(in) && n < want {
		c := in[i]
		if c == ' ' && n > 0 && n%4 == 0 && i+1 < len(in) && in[i+1] != ' ' {
			i++
			continue
		}
		if !(isDigit(c) || c >= 'A' && c <= 'Z') {
			break
		}
		n++
		i++
	}
	if n != want || !noRight(in, i, "") || !ibanOK(in[ks:i]) {
		return 0, 0, false
	}
	return ks, i, true
}

// matchSSN matches "AAA-GG-SSSS" around the keyword "GG-".
func matchSSN(in []byte, ks, _ int) (int, int, bool) {
	s, e := ks-4, ks+7
	if s < 0 || e > len(in) || in[ks-1] != '-' || !noLeft(in, s, "-.") || !noRight(in, e, "-.") {
		return 0, 0, false
	}
	if !ssnOK(in[s:e]) {
		return 0, 0, false
	}
	return s, e, true
}

func contactRules() []Rule {
	mail := fake("email-local", "abcdefghijklmnopqrstuvwxyz", 7) + "." + fake("email-last", "abcdefghijklmnopqrstuvwxyz", 9)
	email := mail + "@" + fake("email-dom", "abcdefghijklmnopqrstuvwxyz", 8) + ".com"
	email2 := fake("email2", "abcdefghijklmnopqrstuvwxyz", 6) + "+billing@" + fake("email2-dom", "abcdefghijklmnopqrstuvwxyz", 5) + ".co.uk"
	us := "+1 " + "(" + "4" + fake("us-npa", csDigits, 2) + ") " + "7" + fake("us-nxx", csDigits, 2) + "-" + fake("us-line", csDigits, 4)
	uk := "+44 7" + fake("uk-mob", csDigits, 3) + " " + fake("uk-mob2", csDigits, 6)
	de := "+49 30 " + fake("de-ph", csDigits, 8)
	fr := "+33 6 " + fake("fr1", csDigits, 2) + " " + fake("fr2", csDigits, 2) + " " + fake("fr3", csDigits, 2) + " " + fake("fr4", csDigits, 2)
	usParen := "(" + "6" + fake("usp-npa", csDigits, 2) + ") " + "8" + fake("usp-nxx", csDigits, 2) + "-" + fake("usp-line", csDigits, 4)
	national := "07" + fake("nat-mob", csDigits, 3) + " " + fake("nat-mob2", csDigits, 6)
	return []Rule{{
		ID:          "pii-email",
		Class:       ClassEmail,
		Description: "e-mail address of a person or team (not documentation or no-reply domains)",
		Keywords:    emailKeywords,
		Match:       matchEmail,
		TruePositives: []Sample{
			tp("Contact: @@", email),
			tp(`{"customer": {"email": "@@"}}`, email),
			tp("From: Jane <@@>", email),
			tp("mailto:@@?subject=hi", email2),
			tp("send the report to @@.", email),
		},
		FalsePositives: fp(
			"git clone git@github.com:acme/api.git",
			"Co-authored-by: Dev <12345+dev@users.noreply.github.com>",
			"write to jane@example.com for details",
			"npm i lodash@4.17.21 @types/node@20.11.5",
			"image: logo@2x.png and icon@3x.webp",
			"https://deploy@git.internal.corp/acme/api.git",
			"@Override public String toString()",
			"ssh admin@10.0.0.12",
			"user@localhost and root@host.local",
			"email: noreply@acme.io",
		),
	}, {
		ID:          "pii-phone-intl",
		Class:       ClassPhone,
		Description: "phone number in international (+country code) format",
		Keywords:    intlPhoneKeywords,
		Match:       matchIntlPhone,
		TruePositives: []Sample{
			tp("Call me at @@ tomorrow", us),
			tp(`{"phone": "@@"}`, uk),
			tp("Tel. @@", de),
			tp("mobile: @@", fr),
			tp("tel:@@", "+1"+"4"+fake("us2", csDigits, 2)+"2"+fake("us2b", csDigits, 6)),
		},
		FalsePositives: fp(
			"+1 (555) 555-0134 is the number in the film",
			"2024-01-15T10:00:00+01:00",
			"x = 1e+10 and y = 3+4",
			"version +1.2.3",
			"+44 20 7946 0123",
			"+1 111 111 1111",
			"+1234567890",
			"+999 123 456 789",
		),
	}, {
		ID:          "pii-phone-us",
		Class:       ClassPhone,
		Description: "North American phone number written (NXX) NXX-XXXX",
		Keywords:    usPhoneKeywords,
		Match:       matchUSPhone,
		TruePositives: []Sample{
			tp("Reach the office at @@.", usParen),
			tp(`"contact": "@@"`, usParen),
		},
		FalsePositives: fp(
			"(555) 555-0199",
			"f(200) 300-4000x",
			"(123) 456-7890",
			"call(310) 555-1234",
		),
	}, {
		ID:          "pii-phone",
		Class:       ClassPhone,
		Description: "phone number in national format next to a phone, mobile, tel or fax label",
		Keywords:    []string{"phone", "tel", "mobile", "cell", "fax", "whatsapp", "sms"},
		Pattern:     labeled(`(?:tele)?phone|tel|mobile|cell(?:phone)?|fax|whatsapp|sms`, `\+?\(?[0-9][0-9 ().-]{5,22}[0-9]`),
		Validate:    phoneOK,
		TruePositives: []Sample{
			tp("Mobile: @@", national),
			tp(`{"phone_number": "@@"}`, "0"+"30 "+fake("nat-de", csDigits, 8)),
			tp("home_phone = '@@'", "(0"+"20) "+fake("nat-uk1", csDigits, 4)+" "+fake("nat-uk2", csDigits, 4)),
			tp("my cell is @@", "6"+fake("nat-us", csDigits, 2)+"-7"+fake("nat-us2", csDigits, 2)+"-"+fake("nat-us3", csDigits, 4)),
		},
		FalsePositives: fp(
			"telemetry.version = 2024.01.15",
			"phone: 2024-01-15",
			"fax: 192.168.100.200",
			"sms sent at 1716239022",
			"cell 1234567 of the sheet",
			"Intel 80486 and hotel 1200",
			"iphone 15 pro max 256",
			"phone_count: 12",
		),
	}}
}

func financeRules() []Rule {
	visa := luhnComplete("4" + fake("visa", csDigits, 14))
	mc := luhnComplete("53" + fake("mc", csDigits, 13))
	amex := luhnComplete("37" + fake("amex", csDigits, 12))
	disc := luhnComplete("6011" + fake("disc", csDigits, 11))
	visaBad := []byte(visa)
	visaBad[7] = '0' + (visaBad[7]-'0'+1)%10
	de := fakeIBAN("DE", "iban-de")
	gb := "GB" + "00" + "NWBK" + fake("iban-gb", csDigits, 14)
	gb = ibanWithCheck(gb)
	fr := fakeIBAN("FR", "iban-fr")
	deBad := []byte(de)
	deBad[10] = '0' + (deBad[10]-'0'+1)%10
	return []Rule{{
		ID:          "pii-card",
		Class:       ClassCard,
		Description: "payment card number (issuer range, length and Luhn checked; published test numbers excluded)",
		Keywords:    cardKeywords,
		Match:       matchCard,
		TruePositives: []Sample{
			tp("card: @@", visa),
			tp(`{"pan": "@@", "exp": "12/29"}`, group4(visa, " ")),
			tp("MC @@ exp 01/28", group4(mc, "-")),
			tp("amex @@", amex[:4]+" "+amex[4:10]+" "+amex[10:]),
			tp("discover=@@;", disc),
		},
		FalsePositives: fp(
			"test card 4242 4242 4242 4242 and 4111111111111111",
			"5555555555554444 is Stripe's Mastercard test number",
			string(visaBad),
			"order id "+visa+"7",
			"amount 4"+fake("visa", csDigits, 14)+".25",
			"ts=1716239022123456 id=9"+fake("id", csDigits, 15),
			"uuid 4111-1111-1111-1111-1111",
		),
	}, {
		ID:            "pii-iban",
		Class:         ClassIBAN,
		Description:   "IBAN (country length and mod-97 checked)",
		Keywords:      ibanKeywords,
		CaseSensitive: true,
		Match:         matchIBAN,
		TruePositives: []Sample{
			tp("IBAN: @@", de),
			tp("pay to @@ (NatWest)", group4(gb, " ")),
			tp(`{"iban": "@@"}`, fr),
		},
		FalsePositives: fp(
			string(deBad),
			"DE"+de[2:]+"1",
			"hash DE89370400440532013000ff",
			"XX89370400440532013000",
		),
	}}
}

func nationalIDRules() []Rule {
	ssn := fakeSSN("ssn")
	ssn2 := fakeSSN("ssn2")
	nino := fakeNINO("nino")
	sin := fakeSIN("sin")
	bsn := fakeBSN("bsn")
	dni := fakeDNI("dni")
	cpf := fakeCPF("cpf")
	aad := fakeAadhaar("aadhaar")
	idRule := func(id, desc string, kws []string, cs bool, keys, value string, ok func([]byte) bool, tps []Sample, fps []Sample) Rule {
		return Rule{
			ID: id, Class: ClassNationalID, Description: desc,
			Keywords: kws, CaseSensitive: cs,
			Pattern: labeled(keys, value), Validate: ok,
			TruePositives: tps, FalsePositives: fps,
		}
	}
	return []Rule{{
		ID:          "pii-us-ssn",
		Class:       ClassNationalID,
		Description: "US Social Security number written AAA-GG-SSSS (area, group and serial rules checked)",
		Keywords:    ssnKeywords,
		Match:       matchSSN,
		TruePositives: []Sample{
			tp("SSN @@ on file", ssn[:3]+"-"+ssn[3:5]+"-"+ssn[5:]),
			tp(`{"tax_id": "@@"}`, ssn2[:3]+"-"+ssn2[3:5]+"-"+ssn2[5:]),
		},
		FalsePositives: fp(
			"2024-01-15 and 2024-12-31",
			"666-12-3456",
			"000-12-3456",
			"123-45-6789",
			"078-05-1120",
			"part 1-234-56-7890",
			"v1.123-45-6789",
		),
	},
		idRule("pii-us-ssn-labeled", "US Social Security number next to an SSN label",
			[]string{"ssn", "social security", "social_security", "social-security", "socialsecurity"}, false,
			`ssn|social[ _.-]?security`, `[0-9]{3}[ -]?[0-9]{2}[ -]?[0-9]{4}`, ssnOK,
			[]Sample{tp("SSN: @@", ssn), tp(`"social_security_number": "@@"`, ssn[:3]+" "+ssn[3:5]+" "+ssn[5:])},
			fp("ssn: 666123456", "SSN: 123456789", "classname 123456789")),
		idRule("pii-uk-nino", "UK National Insurance number next to a NINO or national insurance label",
			[]string{"nino", "national insurance", "national_insurance", "national-insurance", "nationalinsurance", "ni number", "ni_number", "ni no", "ni_no"}, false,
			`nino|national[ _.-]?insurance|ni[ _-](?:number|no)`, `[A-Za-z]{2} ?[0-9]{2} ?[0-9]{2} ?[0-9]{2} ?[A-Da-d]`, ninoOK,
			[]Sample{tp("NI number: @@", nino), tp("national_insurance: '@@'", nino[:2]+" "+nino[2:4]+" "+nino[4:6]+" "+nino[6:8]+" "+nino[8:])},
			fp("NINO: QQ123456C", "nino: AB123456C", "national insurance: BG"+fake("nino-bg", csDigits, 6)+"A", "nino: "+nino[:8]+"E")),
		idRule("pii-ca-sin", "Canadian Social Insurance number next to a SIN label (Luhn checked)",
			[]string{"SIN", "sin_number", "sinNumber", "social insurance", "Social Insurance", "Social insurance", "SOCIAL INSURANCE", "social_insurance", "SOCIAL_INSURANCE", "socialInsurance"}, true,
			`sin|social[ _.-]?insurance`, `[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{3}`, sinOK,
			[]Sample{tp("SIN: @@", sin), tp("Social Insurance Number @@", sin[:3]+" "+sin[3:6]+" "+sin[6:])},
			fp("SIN: 046454287", "using 046454286 rows", "SINGLE 123456782")),
		idRule("pii-nl-bsn", "Dutch citizen service number (BSN) next to a BSN label (11-proof checked)",
			[]string{"bsn", "burgerservicenummer", "sofinummer"}, false,
			`bsn|burgerservicenummer|sofinummer`, `[0-9]{4}\.?[0-9]{2}\.?[0-9]{3}`, bsnOK,
			[]Sample{tp("BSN: @@", bsn), tp(`{"burgerservicenummer": "@@"}`, bsn[:4]+"."+bsn[4:6]+"."+bsn[6:])},
			fp("bsn: 123456789", "bsn: 000000000")),
		idRule("pii-es-dni", "Spanish DNI or NIE next to a DNI, NIE or NIF label (control letter checked)",
			[]string{"DNI", "dni", "Dni", "NIE", "NIF", "nif_", "dni_", "documento nacional", "Documento Nacional"}, true,
			`dni|nie|nif|documento[ _]nacional(?:[ _]de[ _]identidad)?`, `[0-9XYZxyz][0-9]{7}[ -]?[A-Za-z]`, dniOK,
			[]Sample{tp("DNI: @@", dni), tp(`"dni_number": "@@"`, dni[:8]+"-"+dni[8:])},
			fp("DNI: "+dni[:8]+wrongLetter(dni), "DNI: 00000000T", "unified 12345678Z")),
		idRule("pii-br-cpf", "Brazilian CPF next to a CPF label (check digits verified)",
			[]string{"cpf"}, false,
			`cpf`, `[0-9]{3}\.?[0-9]{3}\.?[0-9]{3}-?[0-9]{2}`, cpfOK,
			[]Sample{tp("CPF: @@", cpf), tp(`{"cpf": "@@"}`, cpf[:3]+"."+cpf[3:6]+"."+cpf[6:9]+"-"+cpf[9:])},
			fp("CPF: 111.111.111-11", "cpf: "+cpf[:10]+string('0'+(cpf[10]-'0'+1)%10))),
		idRule("pii-in-aadhaar", "Indian Aadhaar number next to an Aadhaar label (Verhoeff checked)",
			[]string{"aadhaar", "aadhar"}, false,
			`aadhaa?r`, `[2-9][0-9]{3}[ -]?[0-9]{4}[ -]?[0-9]{4}`, aadhaarOK,
			[]Sample{tp("Aadhaar: @@", aad), tp("aadhaar_no = '@@'", aad[:4]+" "+aad[4:8]+" "+aad[8:])},
			fp("aadhaar: 123412341234", "aadhaar: "+aad[:11]+string('0'+(aad[11]-'0'+1)%10))),
	}
}

// Sample builders for PII rules: valid numbers made from fake digits.

const csDigits = "0123456789"

// luhnComplete appends the Luhn check digit to digits.
func luhnComplete(digits string) string {
	for c := byte('0'); c <= '9'; c++ {
		if s := digits + string(c); luhnOK([]byte(s)) {
			return s
		}
	}
	return digits
}

// group4 splits s into groups of four joined by sep.
func group4(s, sep string) string {
	var parts []string
	for len(s) > 4 {
		parts = append(parts, s[:4])
		s = s[4:]
	}
	return strings.Join(append(parts, s), sep)
}

// ibanWithCheck replaces the check digits of iban (country code, 2 digits, BBAN).
func ibanWithCheck(iban string) string {
	r := mod97([]byte(iban[4:]), []byte(iban[:2]+"00"))
	check := 98 - r
	return iban[:2] + string(rune('0'+check/10)) + string(rune('0'+check%10)) + iban[4:]
}

// fakeIBAN returns a valid IBAN of country cc with a numeric BBAN.
func fakeIBAN(cc, seed string) string {
	return ibanWithCheck(cc + "00" + fake(seed, csDigits, ibanLengths[cc]-4))
}

// fakeSSN returns nine digits that pass ssnOK.
func fakeSSN(seed string) string {
	for i := 0; ; i++ {
		s := "1" + fake(seed+strconv.Itoa(i), csDigits, 8)
		if ssnOK([]byte(s)) {
			return s
		}
	}
}

// fakeNINO returns a National Insurance number that passes ninoOK.
func fakeNINO(seed string) string {
	for i := 0; ; i++ {
		s := fake(seed+strconv.Itoa(i), "ABCEGHJKLMNPRSTWXYZ", 2) + fake(seed+"d"+strconv.Itoa(i), csDigits, 6) + fake(seed, "ABCD", 1)
		if ninoOK([]byte(s)) {
			return s
		}
	}
}

// fakeSIN returns a SIN that passes sinOK.
func fakeSIN(seed string) string {
	for i := 0; ; i++ {
		s := luhnComplete("2" + fake(seed+strconv.Itoa(i), csDigits, 7))
		if sinOK([]byte(s)) {
			return s
		}
	}
}

// fakeBSN returns a BSN that passes bsnOK.
func fakeBSN(seed string) string {
	for i := 0; ; i++ {
		s := "1" + fake(seed+strconv.Itoa(i), csDigits, 7)
		for c := byte('0'); c <= '9'; c++ {
			if bsnOK([]byte(s + string(c))) {
				return s + string(c)
			}
		}
	}
}

// fakeDNI returns a DNI that passes dniOK.
func fakeDNI(seed string) string {
	s := "4" + fake(seed, csDigits, 7)
	n, _ := strconv.Atoi(s)
	return s + string(dniLetters[n%23])
}

// wrongLetter returns a DNI control letter other than the right one for dni.
func wrongLetter(dni string) string {
	n, _ := strconv.Atoi(dni[:8])
	return string(dniLetters[(n+1)%23])
}

// fakeCPF returns a CPF that passes cpfOK.
func fakeCPF(seed string) string {
	d := []byte("3" + fake(seed, csDigits, 8))
	for k := 9; k <= 10; k++ {
		sum := 0
		for i := 0; i < k; i++ {
			sum += (k + 1 - i) * int(d[i]-'0')
		}
		d = append(d, byte('0'+sum*10%11%10))
	}
	return string(d)
}

// verhoeffInv is the inverse table of the Verhoeff scheme.
var verhoeffInv = [10]byte{0, 4, 3, 2, 1, 5, 6, 7, 8, 9}

// fakeAadhaar returns an Aadhaar number that passes aadhaarOK.
func fakeAadhaar(seed string) string {
	d := "5" + fake(seed, csDigits, 10)
	c := byte(0)
	for i := len(d) - 1; i >= 0; i-- {
		c = verhoeffD[c][verhoeffP[(len(d)-i)%8][d[i]-'0']]
	}
	return d + string('0'+verhoeffInv[c])
}
