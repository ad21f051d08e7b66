/*
 * kioskd pages: helpers shared by the kiosk, the staff tablet and the stats
 * dashboard. Plain browser JavaScript, no build step. Everything is under
 * window.K. Nothing personal is ever written to localStorage; the staff
 * session (token, role, id) lives in sessionStorage, which the browser drops
 * when the tab is closed.
 */
'use strict';

(function () {
  const K = {};
  const CHINA_MS = 8 * 3600 * 1000; /* China time is UTC+8 all year (no DST) */
  const WEEK = ['日', '一', '二', '三', '四', '五', '六'];

  /* The daemon could not be reached (network down, daemon stopped, timeout). */
  class NetError extends Error {
    constructor(message) {
      super(message || 'unreachable');
      this.name = 'NetError';
    }
  }
  K.NetError = NetError;

  /* Called with true or false each time a request reaches the daemon or fails to. */
  K.onReach = null;

  function reached(ok) {
    if (typeof K.onReach === 'function') K.onReach(ok);
  }

  /*
   * One JSON request. Resolves to {status, ok, data, error, headers}, where
   * error is data.error for an error answer ({code, message, fields?}).
   * Rejects with NetError when there is no answer (after opts.timeout ms).
   */
  K.api = async function (method, path, body, opts) {
    opts = opts || {};
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (opts.token) headers.Authorization = 'Bearer ' + opts.token;
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), opts.timeout || 8000);
    let res, text;
    try {
      res = await fetch(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: ctl.signal,
        cache: 'no-store',
        credentials: 'omit',
      });
      text = await res.text();
    } catch (e) {
      reached(false);
      throw new NetError(e && e.name === 'AbortError' ? 'timeout' : 'unreachable');
    } finally {
      clearTimeout(timer);
    }
    reached(true);
    let data = null;
    try {
      data = text ? JSON.parse(text) : null;
    } catch (e) {
      data = null;
    }
    return {
      status: res.status,
      ok: res.ok,
      data,
      error: data && data.error ? data.error : res.ok ? null : { code: 'http_' + res.status, message: '' },
      headers: res.headers,
    };
  };

  /* --- DOM --- */

  K.$ = (sel, root) => (root || document).querySelector(sel);
  K.$$ = (sel, root) => Array.from((root || document).querySelectorAll(sel));

  /* h('p', {class: 'x', text: 'hi'}, child, ...): builds elements without innerHTML. */
  K.h = function (tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === 'text') el.textContent = v;
      else if (k === 'class') el.className = v;
      else if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? '' : String(v));
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  };

  /*
   * Two taps for what cannot be taken back: the first tap turns the button
   * into the question, the second (within 4 s) runs action. Anything else
   * (button.disarm(), or 4 s) puts the button back as it was.
   */
  K.armed = function (button, question, action) {
    const disarm = () => {
      if (!button.dataset.armed) return;
      delete button.dataset.armed;
      clearTimeout(button.armTimer);
      button.textContent = button.dataset.label;
      if (button.dataset.aria) button.setAttribute('aria-label', button.dataset.aria);
    };
    if (button.dataset.armed) {
      disarm();
      action();
      return;
    }
    button.dataset.label = button.textContent;
    if (button.hasAttribute('aria-label')) {
      button.dataset.aria = button.getAttribute('aria-label');
      button.setAttribute('aria-label', question);
    }
    button.dataset.armed = '1';
    button.textContent = question;
    button.disarm = disarm;
    button.armTimer = setTimeout(disarm, 4000);
  };

  /* 1250 -> "1,250" */
  K.num = (n) => (Number.isFinite(Number(n)) ? Number(n).toLocaleString('zh-CN') : '–');

  /* "2026-12-07 14:02", China time */
  K.ymdhm = function (iso) {
    const t = K.cn(iso);
    return t ? t.y + '-' + String(t.mo).padStart(2, '0') + '-' + String(t.d).padStart(2, '0') + ' ' + K.hm(iso) : '';
  };

  K.show = function (el, on) {
    el.hidden = !on;
  };

  /* --- China time --- */

  /* Parts of an RFC 3339 time as seen in China (whatever the device's zone). */
  K.cn = function (iso) {
    const ms = typeof iso === 'number' ? iso : Date.parse(iso);
    if (!Number.isFinite(ms)) return null;
    const c = new Date(ms + CHINA_MS);
    return {
      ms,
      y: c.getUTCFullYear(),
      mo: c.getUTCMonth() + 1,
      d: c.getUTCDate(),
      wd: c.getUTCDay(),
      hh: c.getUTCHours(),
      mi: c.getUTCMinutes(),
      ss: c.getUTCSeconds(),
      day: Math.floor((ms + CHINA_MS) / 86400000),
    };
  };

  const p2 = (n) => String(n).padStart(2, '0');

  K.hm = function (iso) {
    const t = K.cn(iso);
    return t ? p2(t.hh) + ':' + p2(t.mi) : '';
  };

  K.hms = function (iso) {
    const t = K.cn(iso);
    return t ? p2(t.hh) + ':' + p2(t.mi) + ':' + p2(t.ss) : '';
  };

  /* "今天 11月26日（周四）" */
  K.dayLabel = function (iso, nowMs) {
    const t = K.cn(iso);
    if (!t) return '';
    const today = K.cn(nowMs === undefined ? Date.now() : nowMs).day;
    const rel = { 0: '今天', 1: '明天', 2: '后天' }[t.day - today];
    const date = t.mo + '月' + t.d + '日（周' + WEEK[t.wd] + '）';
    return rel ? rel + ' ' + date : date;
  };

  /* "今天 11月26日（周四） 14:00–14:40" */
  K.whenLabel = function (startIso, endIso, nowMs) {
    const s = K.cn(startIso);
    const e = K.cn(endIso);
    if (!s) return '';
    let out = K.dayLabel(startIso, nowMs) + ' ' + K.hm(startIso);
    if (e) out += '–' + (e.day === s.day ? K.hm(endIso) : K.dayLabel(endIso, nowMs) + ' ' + K.hm(endIso));
    return out;
  };

  K.isToday = function (iso, nowMs) {
    const t = K.cn(iso);
    return !!t && t.day === K.cn(nowMs === undefined ? Date.now() : nowMs).day;
  };

  K.kindLabel = function (kind) {
    return { upgrade: '客户财富升级会', salon: '理财沙龙', community: '社区活动' }[kind] || '活动';
  };

  /* --- Validation messages: the server's field errors, in Chinese --- */

  const FIELD_NAMES = {
    name: '姓名',
    phone: '手机号',
    referrer_phone: '推荐人手机号',
    consent: '同意',
    staff_id: '工号',
    pin: '密码',
  };

  /* The Chinese text for the server's message about one field. */
  K.fieldMessage = function (field, message) {
    const label = FIELD_NAMES[field] || field;
    const m = String(message || '');
    if (field === 'consent') {
      return m === 'the guest\'s consent is required to record them'
        ? '请先征得客人同意并勾选'
        : '请阅读并勾选“同意”后再报名';
    }
    if (m === 'is required' || m === 'must not be empty') {
      return field === 'name' ? '请填写姓名' : '请填写' + label;
    }
    if (m === 'must be an 11-digit mainland mobile number') {
      return label + '应为11位手机号码（1开头，共11位数字）';
    }
    if (m === 'a guest cannot refer themselves') return '推荐人不能是您本人的手机号';
    if (m.startsWith('may contain only letters')) return label + '只能包含文字、空格以及“·”“-”“\'”，请勿输入数字或符号';
    if (m === 'is longer than 32 characters') return label + '不能超过32个字';
    if (m === 'contains control characters' || m === 'is not valid UTF-8') {
      return label + '含有无法识别的字符，请重新输入';
    }
    if (m === 'is too long') return label + '太长了';
    if (m === 'must be a string' || m === 'must be true or false') return label + '格式不正确';
    return label + '填写有误，请检查';
  };

  /* Client-side checks, the same rules as the server's (core/validate.c). */
  K.isMobile = (s) => /^1[3-9][0-9]{9}$/.test(s);

  K.nameLength = (s) => Array.from(s.trim()).length;

  /* --- Staff session (sessionStorage only) --- */

  const SESSION_KEY = 'kioskd.staff';

  K.session = function () {
    try {
      const s = JSON.parse(sessionStorage.getItem(SESSION_KEY) || 'null');
      if (s && s.token && (!s.expires_at || Date.parse(s.expires_at) > Date.now())) return s;
    } catch (e) {
      /* a broken entry is treated as no session */
    }
    return null;
  };

  K.saveSession = function (s) {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(s));
  };

  K.clearSession = function () {
    sessionStorage.removeItem(SESSION_KEY);
  };

  /* A tablet's name as staff choose it at login ("东门1号"): 1-16 letters,
   * digits, spaces and '-' (what the server accepts as "device"), or the
   * generated tablet-xxxxxx of a tablet never named. */
  const DEVICE_NAME = /^[\p{L}\p{M}0-9 \u3000-]{1,16}$/u;
  const DEVICE_ID = /^[A-Za-z0-9._-]{1,64}$/;
  K.validDeviceName = (s) => {
    const t = (s || '').trim();
    return t !== '' && (DEVICE_ID.test(t) || (DEVICE_NAME.test(t) && /[\p{L}0-9]/u.test(t)));
  };

  /* This tablet's name in check-in records ("first_device"): not personal data. */
  K.deviceName = function () {
    let d = null;
    try {
      d = localStorage.getItem('kioskd.device');
    } catch (e) {
      d = null;
    }
    if (!d || !K.validDeviceName(d)) {
      const r = new Uint8Array(3);
      crypto.getRandomValues(r);
      d = 'tablet-' + Array.from(r, (b) => b.toString(16).padStart(2, '0')).join('');
      try {
        localStorage.setItem('kioskd.device', d);
      } catch (e) {
        /* private mode: a new name each time is acceptable */
      }
    }
    return d;
  };

  /* Remembers the name staff gave this tablet (trimmed), for the next login. */
  K.setDeviceName = function (name) {
    try {
      localStorage.setItem('kioskd.device', name.trim());
    } catch (e) {
      /* private mode: the name holds for this session only */
    }
  };

  /*
   * Staff login on a form with #login-id, #login-pin and an error element.
   * Resolves to the session, or null after showing why it failed.
   */
  K.login = async function (staffId, pin, device) {
    const r = await K.api('POST', '/api/v1/staff/login', {
      staff_id: staffId,
      pin,
      device: (device || K.deviceName()).trim(),
    });
    if (r.ok && r.data && r.data.token) {
      const s = {
        token: r.data.token,
        role: r.data.role,
        staff_id: r.data.staff_id || staffId,
        device: r.data.device || (device || K.deviceName()).trim(),
        expires_at: r.data.expires_at,
      };
      K.saveSession(s);
      return { session: s };
    }
    let why = '登录失败，请重试';
    if (r.status === 401) why = '工号或密码错误';
    else if (r.status === 429 && r.error.code === 'account_locked') {
      const secs = parseInt(r.headers.get('Retry-After') || '0', 10);
      why = '密码错误次数过多，账号已暂时锁定' + (secs > 0 ? '，请 ' + Math.ceil(secs / 60) + ' 分钟后再试' : '');
    } else if (r.status === 429) why = '操作太频繁，请稍后再试';
    else if (r.status === 422) {
      const f = (r.error && r.error.fields) || {};
      why = f.staff_id ? '工号只能包含字母、数字和 - _ .'
        : f.device ? '平板名称只能包含文字、数字、空格和 -，最多16个字' : '请填写工号和密码';
    }
    return { error: why };
  };

  K.roleLabel = (role) => ({ staff: '员工', manager: '行长/经理', admin: '管理员' }[role] || role);

  /*
   * Live view: the websocket of one event, reconnected with backoff.
   * handlers: onMessage(msg), onState('open'|'connecting'|'closed'), onRefused().
   * onRefused is called when the server keeps closing at once (bad token or event).
   */
  K.Live = class {
    constructor(eventId, token, handlers) {
      this.eventId = eventId;
      this.token = token;
      this.h = handlers || {};
      this.ws = null;
      this.tries = 0;
      this.quickCloses = 0;
      this.timer = null;
      this.stopped = false;
      this.state = 'closed';
    }

    url() {
      const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
      return proto + '//' + location.host + '/api/v1/live?event=' + encodeURIComponent(this.eventId) +
        '&token=' + encodeURIComponent(this.token);
    }

    setState(s) {
      this.state = s;
      if (this.h.onState) this.h.onState(s);
    }

    start() {
      this.stopped = false;
      this.connect();
    }

    connect() {
      clearTimeout(this.timer);
      if (this.stopped) return;
      this.setState('connecting');
      let ws;
      try {
        ws = new WebSocket(this.url());
      } catch (e) {
        this.retry();
        return;
      }
      this.ws = ws;
      const opened = Date.now();
      let greeted = false;
      ws.onopen = () => {
        this.setState('open');
      };
      ws.onmessage = (ev) => {
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch (e) {
          return;
        }
        if (msg.type === 'hello') {
          greeted = true;
          this.tries = 0;
          this.quickCloses = 0;
        }
        if (this.h.onMessage) this.h.onMessage(msg);
      };
      ws.onclose = () => {
        if (this.ws !== ws) return;
        this.ws = null;
        if (this.stopped) return;
        if (!greeted && Date.now() - opened < 3000) this.quickCloses++;
        this.setState('closed');
        if (this.quickCloses >= 2 && this.h.onRefused) {
          /* the caller checks whether the token is still good; it calls retryNow() or stop() */
          this.quickCloses = 0;
          this.h.onRefused();
        }
        this.retry();
      };
      ws.onerror = () => {
        /* onclose follows */
      };
    }

    retry() {
      if (this.stopped) return;
      clearTimeout(this.timer);
      const delay = Math.min(15000, 1000 * Math.pow(2, this.tries)) * (0.8 + Math.random() * 0.4);
      this.tries = Math.min(this.tries + 1, 4);
      this.timer = setTimeout(() => this.connect(), delay);
    }

    /* Reconnect now (the daemon answered again). */
    retryNow() {
      if (this.stopped || (this.ws && this.ws.readyState <= 1)) return;
      this.tries = 0;
      this.connect();
    }

    stop() {
      this.stopped = true;
      clearTimeout(this.timer);
      if (this.ws) {
        const ws = this.ws;
        this.ws = null;
        ws.onclose = null;
        ws.close();
      }
      this.setState('closed');
    }
  };

  window.K = K;
})();
