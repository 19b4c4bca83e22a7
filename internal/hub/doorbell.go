package hub

// Doorbell presses reach the hub locally, never through the service: over
// an authenticated HTTP endpoint on the LAN (a button or a home automation
// system POSTs /doorbell/{camera}), or from an MQTT broker (a message on
// mqtt_topic whose last level names the camera). Each press becomes a
// high-priority event of that camera (events.go).

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// doorbellHandler serves POST /doorbell/{camera}.
func (h *Hub) doorbellHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /doorbell/{camera}", func(w http.ResponseWriter, r *http.Request) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		if subtle.ConstantTimeCompare([]byte(tok), []byte(h.m.DoorbellToken)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="porchlight-hub"`)
			writeDoorbell(w, http.StatusUnauthorized, "send the doorbell token as Authorization: Bearer TOKEN (doorbell_token in the hub's config)")
			return
		}
		err := h.Doorbell(r.PathValue("camera"), "http")
		switch {
		case errors.Is(err, errUnknownCamera):
			writeDoorbell(w, http.StatusNotFound, err.Error())
		case err != nil:
			h.log.Error("doorbell press not recorded", "err", err)
			writeDoorbell(w, http.StatusServiceUnavailable, "the press could not be recorded: see the hub's log")
		default:
			writeDoorbell(w, http.StatusAccepted, "recorded")
		}
	})
	return mux
}

func writeDoorbell(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": msg})
}

// startDoorbell listens on DoorbellListen (if set) until ctx is done and
// returns the address served.
func (h *Hub) startDoorbell(ctx context.Context) (string, error) {
	if h.m.DoorbellListen == "" {
		return "", nil
	}
	ln, err := net.Listen("tcp", h.m.DoorbellListen)
	if err != nil {
		return "", fmt.Errorf("doorbell_listen: %w", err)
	}
	srv := &http.Server{Handler: h.doorbellHandler(), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	h.log.Info("doorbell endpoint listening", "addr", ln.Addr().String())
	return ln.Addr().String(), nil
}

// startMQTT subscribes to MQTTTopic on MQTTURL (if set) until ctx is done.
// The client reconnects by itself; failures are logged, never fatal:
// recording goes on without the broker.
func (h *Hub) startMQTT(ctx context.Context) {
	if h.m.MQTTURL == "" {
		return
	}
	u, err := url.Parse(h.m.MQTTURL)
	if err != nil {
		h.log.Error("mqtt_url does not parse; doorbell presses over MQTT are off")
		return
	}
	broker := *u
	broker.User = nil
	if broker.Scheme == "mqtt" {
		broker.Scheme = "tcp"
	}
	if broker.Scheme == "mqtts" {
		broker.Scheme = "ssl"
	}
	topic := h.m.MQTTTopic
	opts := mqtt.NewClientOptions().AddBroker(broker.String()).SetClientID("porchlight-hub-" + h.key.ID[:12]).
		SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(5 * time.Second).SetCleanSession(true)
	if u.User != nil {
		opts.SetUsername(u.User.Username())
		if pw, ok := u.User.Password(); ok {
			opts.SetPassword(pw)
		}
	}
	prefix := strings.TrimSuffix(topic, "+")
	opts.SetOnConnectHandler(func(c mqtt.Client) {
		tok := c.Subscribe(topic, 1, func(_ mqtt.Client, msg mqtt.Message) {
			camera := strings.TrimPrefix(msg.Topic(), prefix)
			if err := h.Doorbell(camera, "mqtt"); err != nil {
				h.log.Warn("doorbell press over MQTT not recorded", "topic", msg.Topic(), "err", err)
			}
		})
		if tok.WaitTimeout(10*time.Second) && tok.Error() != nil {
			h.log.Error("mqtt subscribe failed", "topic", topic, "err", tok.Error())
			return
		}
		h.log.Info("doorbell presses over MQTT", "broker", broker.Host, "topic", topic)
	})
	opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		h.log.Warn("mqtt broker connection lost; reconnecting", "broker", broker.Host, "err", err)
	})
	c := mqtt.NewClient(opts)
	c.Connect() // with ConnectRetry, it keeps trying in the background
	go func() {
		<-ctx.Done()
		c.Disconnect(250)
	}()
}
