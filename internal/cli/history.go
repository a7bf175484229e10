package cli

import (
	"encoding/xml"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"secgw/internal/schema"
)

// commitRecord is one commit of secgw-config's config-history, the
// state <get> serves: every commit secgwd keeps for rollback.
type commitRecord struct {
	ID      uint64 `xml:"id"`
	Time    string `xml:"time"`
	User    string `xml:"user"`
	Comment string `xml:"comment"`
	Changes int    `xml:"changes"`
}

// history reads config-history, oldest first.
func (c *CLI) history() ([]commitRecord, error) {
	data, err := c.be.Get([]byte(`<config-history xmlns="`+NSConfig+`"/>`), "")
	if err != nil {
		return nil, err
	}
	var h struct {
		Commits []commitRecord `xml:"config-history>commit"`
	}
	if err := xml.Unmarshal(append(append([]byte("<data>"), data...), "</data>"...), &h); err != nil {
		return nil, fmt.Errorf("cli: reading config-history: %w", err)
	}
	return h.Commits, nil
}

// showCommits runs 'show commits': the kept commits, newest first, with
// the id 'rollback' takes.
func (c *CLI) showCommits(words []string) error {
	if len(words) > 0 {
		return fmt.Errorf("cli: unexpected word %q after show commits", words[0])
	}
	hist, err := c.history()
	if err != nil {
		return err
	}
	if len(hist) == 0 {
		_, err := io.WriteString(c.out, "No commits.\n")
		return err
	}
	tw := tabwriter.NewWriter(c.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTime\tUser\tChanges\tComment")
	for i := len(hist) - 1; i >= 0; i-- {
		r := hist[i]
		user := r.User
		if user == "" {
			user = "(secgwd)"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%s\n", r.ID, printable(r.Time), printable(user), r.Changes, printable(r.Comment))
	}
	return tw.Flush()
}

// rollbackCommand runs 'rollback ID' in configuration mode: load the
// configuration that was running after commit ID into the candidate
// (secgw-config rollback; the candidate's uncommitted changes go), then
// print what a commit would change.
func (c *CLI) rollbackCommand(words []string) error {
	if len(words) != 1 {
		return fmt.Errorf("cli: rollback takes one commit id (see 'show commits')")
	}
	id, err := strconv.ParseUint(words[0], 10, 64)
	if err != nil {
		return fmt.Errorf("cli: rollback %s: a commit id is a number (see 'show commits')", words[0])
	}
	return c.rollback(id)
}

// rollback loads commit id into the candidate and prints the diff.
func (c *CLI) rollback(id uint64) error {
	rpc := `<rollback xmlns="` + NSConfig + `"><commit-id>` + strconv.FormatUint(id, 10) + `</commit-id></rollback>`
	if _, err := c.be.Call([]byte(rpc)); err != nil {
		return err
	}
	c.dirty = true
	if err := c.refresh(); err != nil {
		return err
	}
	diff, err := c.configDiff()
	if err != nil {
		return err
	}
	if diff == "" {
		c.dirty = false
		_, err = fmt.Fprintf(c.out, "Loaded commit %d: running already is that configuration, nothing to commit.\n", id)
		return err
	}
	_, err = fmt.Fprintf(c.out, "Loaded commit %d into the candidate; 'commit' makes it running. The changes:\n%s", id, diff)
	return err
}

// configDiff returns the changes a commit would make: the candidate
// against running (see diff.go).
func (c *CLI) configDiff() (string, error) {
	read := func(source string) (schema.Node, error) {
		data, err := c.be.GetConfig(source, nil, "explicit")
		if err != nil {
			return schema.Node{}, err
		}
		d, err := c.decode(data)
		if err != nil {
			return schema.Node{}, err
		}
		return c.s.RootNode(d), nil
	}
	running, err := read("running")
	if err != nil {
		return "", err
	}
	candidate, err := read("candidate")
	if err != nil {
		return "", err
	}
	return c.diffTrees(running, candidate), nil
}

// showDiff runs 'show config diff' and 'compare'.
func (c *CLI) showDiff(words []string) error {
	if len(words) > 0 {
		return fmt.Errorf("cli: unexpected word %q after show config diff", words[0])
	}
	diff, err := c.configDiff()
	if err != nil {
		return err
	}
	if diff == "" {
		diff = "No uncommitted changes.\n"
	}
	_, err = io.WriteString(c.out, diff)
	return err
}
