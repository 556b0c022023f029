package service

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/microhost/microhost/abi"
	"github.com/microhost/microhost/host/component"
	"github.com/microhost/microhost/internal/broker"
	"github.com/microhost/microhost/internal/host"
	"github.com/microhost/microhost/internal/wasmcomponent"
)

// pubsub is the service's broker and the subscriber modules it serves.
type pubsub struct {
	broker      *broker.Broker
	subscribers []subscriber

	mu   sync.Mutex // guards subs, written by Run and read by Subscriptions
	subs []*broker.Subscription
}

// subscriber is one configured [[subscriber]], its module loaded.
type subscriber struct {
	topic, queue string
	module       *wasmcomponent.Live
}

// brokerProtocol chooses the broker's twin as every component's is chosen — the native twin
// or the module, by the [broker] mode — logs the choice and returns the protocol.
func (s *Service) brokerProtocol(ctx context.Context) (broker.Protocol, error) {
	cfg := s.cfg.Broker
	mode, err := component.ParseMode(cfg.Mode)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	ch, err := s.catalogue.Choose(component.KindBroker, cfg.Module, mode, cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("broker: %w", err)
	}
	s.logger.Info("component", ch.LogArgs()...)
	spec := wasmcomponent.Spec{
		Kind:    component.KindBroker,
		Name:    cfg.Module,
		Path:    ch.Path,
		Ops:     component.BrokerOps(),
		Options: host.ModuleOptions{PoolSize: cfg.PoolSize, StartupTrusted: s.catalogue.StockBuild(component.KindBroker, cfg.Module)},
	}
	var proto broker.Protocol
	var m *wasmcomponent.Module
	if ch.Mode == component.ModeNative {
		twin, ok := ch.Twin.Native.(component.BrokerTwin)
		if !ok || twin.Protocol == nil {
			return nil, fmt.Errorf("broker: the native twin %q is a %T, not a component.BrokerTwin", ch.Name, ch.Twin.Native)
		}
		proto = twin.Protocol
	} else {
		if m, err = wasmcomponent.Load(ctx, s.loader(), spec); err != nil {
			return nil, err
		}
		proto = broker.Wasm(m)
	}
	twin, _ := s.catalogue.Twin(component.KindBroker, cfg.Module)
	if bt, ok := twin.Native.(component.BrokerTwin); ok && bt.Protocol != nil && mode == component.ModeAuto {
		spec.Path = cfg.Path
		sw := wasmcomponent.NewSwitch(proto, m)
		s.addAuto(wasmcomponent.NewAuto(spec, sw, bt.Protocol, func(m *wasmcomponent.Module) (broker.Protocol, error) { return broker.Wasm(m), nil }))
		return switchingBroker{sw}, nil
	}
	return proto, nil
}

// switchingBroker is a broker protocol whose calls run on whatever its Switch holds now.
type switchingBroker struct {
	sw *wasmcomponent.Switch[broker.Protocol]
}

func (b switchingBroker) Encode(ctx context.Context, msg *component.BrokerMessage) ([]byte, error) {
	h := b.sw.Acquire()
	if h == nil {
		return nil, wasmcomponent.ErrClosed
	}
	defer h.Release()
	return h.Value().Encode(ctx, msg)
}

func (b switchingBroker) Parse(ctx context.Context, req *component.BrokerParseRequest) (*component.BrokerDelivery, error) {
	h := b.sw.Acquire()
	if h == nil {
		return nil, wasmcomponent.ErrClosed
	}
	defer h.Release()
	return h.Value().Parse(ctx, req)
}

func (b switchingBroker) Route(ctx context.Context, req *component.BrokerRouteRequest) (*component.BrokerRoutes, error) {
	h := b.sw.Acquire()
	if h == nil {
		return nil, wasmcomponent.ErrClosed
	}
	defer h.Release()
	return h.Value().Route(ctx, req)
}

// provisionBroker creates the broker (with the protocol the config chooses), loads the
// subscriber modules and, when there are any, binds the delivery listener. Without a
// registry that can look services up there is no broker: modules' publish answers 503.
func (s *Service) provisionBroker(ctx context.Context) error {
	cfg := s.cfg
	reg, ok := s.reg.(broker.Registry)
	if !ok {
		if len(cfg.Subscribers) > 0 {
			return fmt.Errorf("subscriber: the registry cannot look services up, so it cannot serve a broker")
		}
		return nil
	}
	proto, err := s.brokerProtocol(ctx)
	if err != nil {
		if len(cfg.Subscribers) > 0 || cfg.Broker.Mode != string(component.ModeAuto) {
			return err
		}
		// Nothing subscribes and no broker was asked for by mode: run without one.
		s.logger.Warn("no broker: modules' publish answers 503", "err", err)
		return nil
	}
	b, err := broker.New(broker.Options{
		Registry:        reg,
		Protocol:        proto,
		Address:         cfg.Broker.Address,
		Advertise:       cfg.Broker.Advertise,
		TTL:             cfg.Registry.TTL.D(),
		Interval:        cfg.Registry.Interval.D(),
		RetryFor:        cfg.Broker.RetryFor.D(),
		Backoff:         cfg.Broker.Backoff.D(),
		DeliveryTimeout: cfg.Broker.Timeout.D(),
		HandlerTimeout:  cfg.Server.Timeout.D(),
		MaxBodyBytes:    cfg.Server.MaxBodyBytes,
		Logger:          s.logger,
	})
	if err != nil {
		return err
	}
	s.pubsub.broker = b
	for i, sc := range cfg.Subscribers {
		opts := guestLimits(sc.Interrupt, sc.MemoryLimitMB)
		opts.PoolSize, opts.Publisher = sc.PoolSize, s.publisher()
		opts.LogBytesPerCall, opts.LogBytesPerSecond = cfg.Plugins.LogBytesPerCall, cfg.Plugins.LogBytesPerSecond
		opts.Grants = host.Grants{Publishes: sc.Publishes}
		sl, err := s.loadSlot(ctx, component.KindSubscriber, sc.Path, opts)
		if err != nil {
			if err := s.keep(s.moduleProblem(handlerKey("subscriber", i, sc.Module), sc.Path, err)); err != nil {
				return err
			}
			continue
		}
		sl.topic = sc.Topic
		d := sl.live.Descriptor()
		if d.Kind != abi.KindSubscriber && d.Kind != abi.KindHandler {
			if err := s.keep(fmt.Errorf("subscriber[%d]: module %s is a %s module, not a subscriber", i, sc.Path, d.Kind)); err != nil {
				return err
			}
			continue
		}
		if !slices.ContainsFunc(d.Endpoints, func(e abi.Endpoint) bool { return e.Name == sc.Topic }) {
			if err := s.keep(fmt.Errorf("subscriber[%d]: module %s does not subscribe to topic %q (it declares %s)", i, sc.Path, sc.Topic, endpointNames(d))); err != nil {
				return err
			}
			continue
		}
		s.pubsub.subscribers = append(s.pubsub.subscribers, subscriber{topic: sc.Topic, queue: sc.Queue, module: sl.live})
	}
	if len(s.pubsub.subscribers) > 0 && !s.dryRun {
		if err := b.Start(ctx); err != nil {
			return err
		}
	}
	return nil
}

func endpointNames(d abi.Descriptor) string {
	if len(d.Endpoints) == 0 {
		return "none"
	}
	names := make([]string, len(d.Endpoints))
	for i, e := range d.Endpoints {
		names[i] = fmt.Sprintf("%q", e.Name)
	}
	return fmt.Sprint(names)
}

// publisher is what modules publish through: the service's broker, or nothing.
func (s *Service) publisher() host.Publisher {
	b := s.pubsub.broker
	if b == nil {
		return nil
	}
	return host.PublisherFunc(func(ctx context.Context, topic string, header map[string]string, body []byte) error {
		// The message carries the publication's trace context, so that its deliveries join
		// the publisher's trace.
		ctx, header, end := s.tel.StartPublish(ctx, topic, header)
		err := b.Publish(ctx, topic, &broker.Message{Header: header, Body: body})
		end(err)
		return err
	})
}

// lookupFold finds key in h case-insensitively.
func lookupFold(h map[string]string, key string) string {
	if v, ok := h[key]; ok {
		return v
	}
	for k, v := range h {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return ""
}

// Broker returns the service's broker, or nil when its registry cannot serve one.
func (s *Service) Broker() *broker.Broker { return s.pubsub.broker }

// Subscriptions returns the subscriptions Run has made so far, in config order.
func (s *Service) Subscriptions() []*broker.Subscription {
	s.pubsub.mu.Lock()
	defer s.pubsub.mu.Unlock()
	return slices.Clone(s.pubsub.subs)
}

// subscribe subscribes every configured subscriber; the broker keeps re-registering them.
func (s *Service) subscribe(ctx context.Context) {
	for _, sub := range s.pubsub.subscribers {
		h := broker.ModuleHandler(sub.module)
		if s.tel.Tracing() {
			inner := h
			h = func(ctx context.Context, ev *broker.Event) error {
				ctx, end := s.tel.StartDelivery(ctx, ev.Topic, func(k string) string { return lookupFold(ev.Header, k) })
				err := inner(ctx, ev)
				end(err)
				return err
			}
		}
		ss, err := s.pubsub.broker.Subscribe(ctx, sub.topic, sub.queue, h)
		if err != nil {
			s.logger.Error("subscribe failed", "topic", sub.topic, "err", err)
			continue
		}
		s.pubsub.mu.Lock()
		s.pubsub.subs = append(s.pubsub.subs, ss)
		s.pubsub.mu.Unlock()
	}
}

// stopBroker deregisters the subscribers and closes the delivery listener. It is safe to
// call more than once.
func (s *Service) stopBroker(ctx context.Context) error {
	if s.pubsub.broker == nil {
		return nil
	}
	return s.pubsub.broker.Close(ctx)
}
