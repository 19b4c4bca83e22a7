package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/porchlight/porchlight/internal/api"
)

// noticePage is the service's page size of GET /v1/notifications.
const noticePage = 100

func cmdNotifications(ctx context.Context, m *Main, args []string) error {
	spec := cmdSpec{name: "notifications", synopsis: "[--follow]", about: `
Shows your account's notifications, oldest first: sign-ins from devices not
seen before, changes of password, e-mail address or second factors, and
recovery codes used. If one is not you, change your password
(` + "`porchlight passwd`" + `), which signs out every other session.
New camera events are announced here too (camera and time only): see them
with ` + "`porchlight events`" + `.

With --follow it keeps waiting for new ones until interrupted (Ctrl-C), and
fails if this device's session ends meanwhile.`}
	fs := m.flags(spec.name)
	follow := fs.Bool("follow", false, "keep showing new notifications as they come, until interrupted")
	if _, err := m.parse(fs, spec, args); err != nil {
		return err
	}
	_, c, err := m.openSession()
	if err != nil {
		return err
	}
	var last int64
	shown := 0
	for {
		list, err := c.c.Notifications(ctx, last)
		if err != nil {
			return c.explain("list notifications", err)
		}
		before := last
		for _, n := range list {
			if n.Seq <= last {
				continue
			}
			m.printNotice(n)
			last, shown = n.Seq, shown+1
		}
		if len(list) < noticePage || last == before {
			break
		}
	}
	if !*follow {
		if shown == 0 {
			fmt.Fprintln(m.Stdout, "No notifications.")
		}
		return nil
	}
	fmt.Fprintln(m.Stderr, "Waiting for new notifications (Ctrl-C to stop)…")
	for n, err := range c.c.Events(ctx, last) {
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return c.explain("follow notifications", err)
		}
		if n.Seq != 0 && n.Seq <= last {
			continue
		}
		m.printNotice(n)
		last = max(last, n.Seq)
	}
	return nil
}

// noticeText says what a notification kind means.
var noticeText = map[string]string{
	api.NoticeNewSignIn:      "sign-in from a new device",
	api.NoticePasswordChange: "password changed",
	api.NoticeFactorChange:   "second factor changed",
	api.NoticeRecoveryUsed:   "recovery code used to sign in",
	api.NoticeEmailChange:    "e-mail address changed",
	api.NoticeCameraEvent:    "camera event (see `porchlight events`)",
}

// printNotice prints one notification as a line.
func (m *Main) printNotice(n api.Notification) {
	what, ok := noticeText[n.Kind]
	if !ok {
		what = clean(n.Kind)
	}
	var about []string
	if n.DeviceName != "" {
		about = append(about, "device "+clean(n.DeviceName))
	}
	if n.Client != "" {
		about = append(about, "client "+clean(n.Client))
	}
	if n.AddrPrefix != "" {
		about = append(about, "from "+clean(n.AddrPrefix))
	}
	if n.Method != "" {
		about = append(about, "with "+strings.ReplaceAll(clean(n.Method), "_", " "))
	}
	if n.Detail != "" {
		about = append(about, clean(n.Detail))
	}
	if n.CameraID != "" {
		about = append(about, "camera "+clean(n.CameraID))
	}
	if n.ObjectID != "" {
		about = append(about, "object "+clean(n.ObjectID))
	}
	line := m.when(n.CreatedAt) + "  " + what
	if len(about) > 0 {
		line += ": " + strings.Join(about, ", ")
	}
	fmt.Fprintln(m.Stdout, line)
}
