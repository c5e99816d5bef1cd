package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/cloakroom/cloakroom/tokenize"
)

// exportHeader is the first line of a vault export.
type exportHeader struct {
	Format         string `json:"cloakroom_vault_export"`
	KeyFingerprint string `json:"key_fingerprint"`
	Exported       string `json:"exported"`
}

// exportRecord is one token of a vault export: the value stays sealed under the
// master key, with the token id as associated data.
type exportRecord struct {
	ID         string    `json:"id"`
	Class      string    `json:"class"`
	Rule       string    `json:"rule"`
	Sealed     []byte    `json:"sealed"` // base64 in JSON
	FirstSeen  time.Time `json:"first_seen"`
	Submitters []string  `json:"submitters"`
}

const exportFormat = "1"

const vaultUsage = `usage: cloakroom vault export [serve flags] > tokens.jsonl
       cloakroom vault import [serve flags] < tokens.jsonl

Moves tokens between stores (embedded and Redis), sealed: values never leave in the
clear. The serve flags (or --config) name the store (--data-dir for the embedded one,
--redis for Redis) and the master key (--master-key-file, CLOAKROOM_MASTER_KEY, or
the data directory's). Both sides must use the same master key: import refuses an
export made under another. The embedded store cannot be read while cloakroom serve
runs on it.
`

// vaultCmd runs cloakroom vault export|import.
func vaultCmd(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "export" && args[0] != "import") {
		fmt.Fprint(stderr, vaultUsage)
		return errors.New("vault: want export or import")
	}
	cfg, err := parseServe(args[1:])
	if err != nil {
		return err
	}
	dir, err := openDataDir(cfg.DataDir, keySources{
		caCert: cfg.CACert, caKey: cfg.CAKey,
		masterKeyFile: cfg.MasterKeyFile, masterKeyEnv: os.Getenv(masterKeyEnv),
	})
	if err != nil {
		return err
	}
	keys, err := tokenize.NewKeys(dir.master)
	clear(dir.master)
	if err != nil {
		return err
	}
	var dec *json.Decoder
	if args[0] == "import" {
		// Check the export's key before touching the store: a store records the first
		// key it sees, and must not record a wrong one.
		dec = json.NewDecoder(bufio.NewReader(stdin))
		var h exportHeader
		if err := dec.Decode(&h); err != nil || h.Format != exportFormat {
			return errors.New("vault import: the input is not a cloakroom vault export (format 1)")
		}
		if h.KeyFingerprint != keys.Fingerprint() {
			return fmt.Errorf("vault import: %w: the export was sealed under key %s, this master key is %s", tokenize.ErrKeyMismatch, h.KeyFingerprint, keys.Fingerprint())
		}
	}
	st, err := openStore(ctx, cfg, dir)
	if err != nil {
		return err
	}
	defer st.close()
	store := st.vault
	if err := tokenize.CheckKey(ctx, store, keys); err != nil {
		return fmt.Errorf("vault: %w", err)
	}
	if args[0] == "export" {
		n, err := exportVault(ctx, store, keys, stdout)
		fmt.Fprintf(stderr, "cloakroom: exported %d tokens\n", n)
		return err
	}
	n, err := importVault(ctx, store, keys, dec)
	fmt.Fprintf(stderr, "cloakroom: imported %d tokens\n", n)
	return err
}

func exportVault(ctx context.Context, store tokenize.Store, keys *tokenize.Keys, w io.Writer) (int, error) {
	bw := bufio.NewWriter(w)
	enc := json.NewEncoder(bw)
	if err := enc.Encode(exportHeader{Format: exportFormat, KeyFingerprint: keys.Fingerprint(), Exported: time.Now().UTC().Format(time.RFC3339)}); err != nil {
		return 0, err
	}
	n := 0
	err := store.Each(ctx, func(r tokenize.Record) error {
		n++
		return enc.Encode(exportRecord{ID: r.ID, Class: r.Class, Rule: r.Rule, Sealed: r.Sealed, FirstSeen: r.FirstSeen, Submitters: r.Submitters})
	})
	if err != nil {
		return n, fmt.Errorf("vault export: %w", err)
	}
	return n, bw.Flush()
}

// importVault stores the records dec yields (its header already read and checked).
func importVault(ctx context.Context, store tokenize.Store, keys *tokenize.Keys, dec *json.Decoder) (int, error) {
	n := 0
	for line := 2; ; line++ {
		var rec exportRecord
		err := dec.Decode(&rec)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, fmt.Errorf("vault import: record %d does not parse", line)
		}
		// The value must open under this key and match its id: nothing unreadable
		// enters the store.
		val, err := keys.Open(rec.ID, rec.Sealed)
		if err != nil || keys.ID(val) != rec.ID || !tokenize.ValidClass(rec.Class) {
			clear(val)
			return n, fmt.Errorf("vault import: record %d (token %s) does not open under this master key", line, rec.ID)
		}
		clear(val)
		subs := rec.Submitters
		if len(subs) == 0 {
			subs = []string{"imported"}
		}
		for _, p := range subs {
			if _, err := store.Put(ctx, tokenize.Record{ID: rec.ID, Class: rec.Class, Rule: rec.Rule, Sealed: rec.Sealed, FirstSeen: rec.FirstSeen}, p); err != nil {
				return n, fmt.Errorf("vault import: token %s: %w", rec.ID, err)
			}
		}
		n++
	}
}
