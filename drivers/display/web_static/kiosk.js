// The kiosk screen. It renders what the daemon sends on GET /events and decides nothing:
//   {"type": "config", "sounds", "spoken_prompts", "preview"}
//   {"type": "status", ...StatusView, "lang"}
//   {"type": "result", ...ResultView, "age_s", "replay"}   (ResultView.arrow: "left"/"right")
// Every user-facing text comes from those messages ("…" is the only fallback, before the
// first status). After painting a new result it reports POST /rendered {sequence, shown_at}.
"use strict";

(() => {
  const $ = (id) => document.getElementById(id);
  const RESULT_ICONS = {
    success: "i-success",
    repeat: "i-repeat",
    refused: "i-refused",
    prompt: "i-prompt",
  };
  const LINK_ICONS = {
    online: "i-online",
    offline: "i-offline",
    "offline-only": "i-offline-only",
    lost: "i-link-lost",
    connecting: "i-link-lost",
  };
  const FALLBACK = "…";
  const RECONNECT_MS = 2000;
  const PREVIEW_RETRY_MS = 3000;

  const state = {
    config: { sounds: false, spoken_prompts: false, preview: true },
    status: null,
    link: "connecting",
    holdTimer: 0,
    previewTimer: 0,
  };

  // ---- helpers ----

  function setIcon(container, symbol) {
    const use = container.querySelector("use");
    if (use && use.getAttribute("href") !== "#" + symbol) use.setAttribute("href", "#" + symbol);
  }

  function setItem(name, visible, text, itemState) {
    const item = document.querySelector(`#status [data-item="${name}"]`);
    item.hidden = !visible;
    if (!visible) return item;
    item.querySelector(".text").textContent = text;
    if (itemState !== undefined) item.dataset.state = itemState;
    return item;
  }

  function label(key) {
    const labels = (state.status && state.status.labels) || {};
    return labels[key] || "";
  }

  function lang() {
    return document.documentElement.lang || "zh-Hans";
  }

  // ---- clock ----

  const pad = (n) => String(n).padStart(2, "0");

  function tick() {
    const now = new Date();
    $("clock").textContent = `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}`;
    try {
      $("date").textContent = now.toLocaleDateString(lang(), {
        year: "numeric", month: "long", day: "numeric", weekday: "long",
      });
    } catch (err) {
      $("date").textContent = now.toISOString().slice(0, 10);
    }
    setTimeout(tick, 1000 - now.getMilliseconds() + 5);
  }

  // ---- status bar and idle texts ----

  function renderStatus() {
    const status = state.status;
    document.body.dataset.link = state.link;
    $("status").dataset.state = state.link;
    let linkState;
    if (state.link !== "open") linkState = state.link === "lost" ? "lost" : "connecting";
    else if (!status) linkState = "connecting";
    else if (status.online === null) linkState = "offline-only";
    else linkState = status.online ? "online" : "offline";
    const linkText = {
      online: label("online"),
      offline: label("offline"),
      "offline-only": label("offline_only"),
      lost: label("link_lost") || label("offline"),
      connecting: "",
    }[linkState] || FALLBACK;
    const link = setItem("link", true, linkText, linkState);
    setIcon(link, LINK_ICONS[linkState]);
    if (!status) return;

    const backlog = Number(status.backlog) || 0;
    setItem("backlog", backlog > 0, label("backlog").replace("{count}", String(backlog)));
    setItem("clock", !status.clock_synced, label("clock"));
    setItem("camera", !status.camera_ok, label("camera"));
    const meta = document.querySelector('#status [data-item="terminal"]');
    meta.textContent = [status.site, status.terminal_id].filter(Boolean).join(" · ");
    document.body.dataset.camera = status.camera_ok ? "ok" : "missing";
  }

  function applyStatus(msg) {
    state.status = msg;
    if (msg.lang && document.documentElement.lang !== msg.lang) {
      document.documentElement.lang = msg.lang;
    }
    const title = label("title");
    document.title = title || FALLBACK;
    $("idle-title").textContent = title;
    $("idle-text").textContent = label("idle");
    // The face-recognition notice: empty (or absent, from an older daemon) hides it.
    $("idle-notice").textContent = label("notice");
    renderStatus();
  }

  // ---- results ----

  function showIdle() {
    clearTimeout(state.holdTimer);
    $("result").hidden = true;
    $("result").dataset.kind = "none";
    $("idle").hidden = false;
  }

  function showResult(msg) {
    const result = $("result");
    result.dataset.kind = msg.kind;
    result.dataset.sequence = String(msg.sequence);
    result.dataset.icon = msg.icon || "";
    setIcon($("result-icon"), RESULT_ICONS[msg.kind] || "i-prompt");
    // A head-turn request: the big arrow (left: ←, right: →; the person's own side as they
    // face the screen) in place of the icon.
    const direction = msg.arrow === "left" || msg.arrow === "right" ? msg.arrow : "";
    result.dataset.arrow = direction;
    $("result-arrow").dataset.direction = direction;
    $("result-arrow").hidden = !direction;
    $("result-icon").hidden = Boolean(direction);
    $("result-detail").hidden = Boolean(direction); // its text is the same arrow, small
    $("result-title").textContent = msg.title || "";
    $("result-name").textContent = msg.name || "";
    $("result-detail").textContent = msg.detail || "";
    $("idle").hidden = true;
    result.hidden = false;
    clearTimeout(state.holdTimer);
    const holdMs = Math.max(0, (Number(msg.hold_s) || 0) - (Number(msg.age_s) || 0)) * 1000;
    state.holdTimer = setTimeout(showIdle, holdMs);
    if (msg.replay) return;
    reportRendered(msg.sequence);
    playSound(msg.sound);
    speak(msg.speak);
  }

  // Two animation frames: the first runs before the paint of the new result, the second
  // after it, so shown_at is when the result was on screen (at most one frame late).
  function reportRendered(sequence) {
    requestAnimationFrame(() => requestAnimationFrame(() => {
      const body = JSON.stringify({ sequence, shown_at: Date.now() });
      fetch("/rendered", {
        method: "POST", headers: { "Content-Type": "application/json" }, body,
      }).catch(() => {});
    }));
  }

  // ---- sounds (Web Audio tones) and spoken prompts (speechSynthesis) ----

  const TONES = {
    success: [[880, 0, 0.12, "sine"], [1320, 0.14, 0.16, "sine"]],
    failure: [[220, 0, 0.6, "triangle"]],
    prompt: [[660, 0, 0.15, "sine"]],
  };
  let audio = null;

  function audioContext() {
    const Context = window.AudioContext || window.webkitAudioContext;
    if (!Context) return null;
    if (!audio) audio = new Context();
    if (audio.state === "suspended") audio.resume().catch(() => {});
    return audio;
  }

  function playSound(sound) {
    const tones = TONES[sound];
    if (!state.config.sounds || !tones) return;
    const ac = audioContext();
    if (!ac) return;
    for (const [freq, start, duration, type] of tones) {
      const osc = ac.createOscillator();
      const gain = ac.createGain();
      const t = ac.currentTime + start;
      osc.type = type;
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.3, t + 0.015);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + duration);
      osc.connect(gain).connect(ac.destination);
      osc.start(t);
      osc.stop(t + duration + 0.03);
    }
  }

  function speechLang() {
    const value = lang();
    if (value === "zh-Hans") return "zh-CN";
    if (value === "zh-Hant") return "zh-TW";
    return value;
  }

  function speak(text) {
    if (!state.config.spoken_prompts || !text || !window.speechSynthesis) return;
    const synth = window.speechSynthesis;
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.lang = speechLang();
    const prefix = utterance.lang.slice(0, 2);
    const voice = synth.getVoices().find((v) => v.lang.replace("_", "-") === utterance.lang)
      || synth.getVoices().find((v) => v.lang.startsWith(prefix));
    if (voice) utterance.voice = voice;
    synth.cancel();
    synth.speak(utterance);
  }

  // ---- live camera view ----

  function startPreview() {
    clearTimeout(state.previewTimer);
    const camera = $("camera");
    const img = $("preview");
    document.body.dataset.preview = state.config.preview ? "on" : "off";
    if (!state.config.preview) {
      img.removeAttribute("src");
      camera.dataset.state = "off";
      return;
    }
    camera.dataset.state = "waiting";
    img.src = "/preview.mjpg?t=" + Date.now();
  }

  function setupPreview() {
    const img = $("preview");
    img.addEventListener("load", () => {
      const camera = $("camera");
      camera.dataset.state = "live";
      // The box takes the camera's shape (kiosk.css, --camera-aspect).
      if (img.naturalWidth > 0 && img.naturalHeight > 0) {
        const aspect = (img.naturalWidth / img.naturalHeight).toFixed(4);
        if (camera.dataset.aspect !== aspect) {
          camera.dataset.aspect = aspect;
          camera.style.setProperty("--camera-aspect", aspect);
        }
      }
    });
    img.addEventListener("error", () => {
      $("camera").dataset.state = "waiting";
      clearTimeout(state.previewTimer);
      if (state.config.preview) state.previewTimer = setTimeout(startPreview, PREVIEW_RETRY_MS);
    });
  }

  // ---- the event stream ----

  function handle(msg) {
    if (msg.type === "config") {
      const previewChanged = msg.preview !== state.config.preview || !$("preview").src;
      state.config = msg;
      if (previewChanged || $("camera").dataset.state !== "live") startPreview();
    } else if (msg.type === "status") {
      applyStatus(msg);
    } else if (msg.type === "result") {
      showResult(msg);
    }
  }

  function connect() {
    const source = new EventSource("/events");
    source.onopen = () => {
      state.link = "open";
      renderStatus();
    };
    source.onmessage = (event) => {
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch (err) {
        return;
      }
      handle(msg);
    };
    source.onerror = () => {
      state.link = "lost";
      renderStatus();
      if (source.readyState === EventSource.CLOSED) {
        source.close();
        setTimeout(connect, RECONNECT_MS);
      }
    };
  }

  tick();
  setupPreview();
  renderStatus();
  connect();
})();
