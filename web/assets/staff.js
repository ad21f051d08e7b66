/*
 * The staff tablet (/staff): login, choose the event, check guests in by
 * scanning (hardware scanner = keyboard wedge, or the camera), live counters
 * from every tablet over the websocket, roster search, undo, walk-ins.
 * Tells clearly when the daemon cannot be reached, and reconnects by itself.
 */
'use strict';

(function () {
  const { $, h } = K;
  const RESULT_MS = 2000;
  const HEARTBEAT_MS = 15000;
  const PROBE_MS = 3000;

  let session = null;
  let events = [];
  let eventId = null;
  let live = null;
  let liveDownSince = null;
  let reachable = true;
  let probeTimer = null;
  let heartbeatTimer = null;
  let resultTimer = null;
  let lastCheckin = null; /* the last check-in made on this tablet */
  let feed = [];
  const rosterRows = new Map(); /* signup_id -> guest, for the rows on screen */
  let members = null; /* the member panels (members.js) */
  let calls = null; /* the call list of a campaign (calls.js) */

  /* --- sounds (Web Audio; started by the first touch or key) --- */

  let audio = null;

  function unlockAudio() {
    try {
      if (!audio) {
        const AC = window.AudioContext || window.webkitAudioContext;
        if (AC) audio = new AC();
      }
      if (audio && audio.state === 'suspended') audio.resume();
    } catch (e) {
      audio = null;
    }
  }

  function beep(kind) {
    if (!audio || audio.state !== 'running') return;
    const tones = {
      ok: [[1175, 0, 0.14]],
      warn: [[740, 0, 0.11], [740, 0.17, 0.11]],
      bad: [[196, 0, 0.45]],
    }[kind];
    for (const [freq, at, dur] of tones || []) {
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.type = kind === 'bad' ? 'square' : 'sine';
      o.frequency.value = freq;
      const t = audio.currentTime + at;
      g.gain.setValueAtTime(0.0001, t);
      g.gain.exponentialRampToValueAtTime(kind === 'bad' ? 0.15 : 0.3, t + 0.01);
      g.gain.exponentialRampToValueAtTime(0.0001, t + dur);
      o.connect(g);
      g.connect(audio.destination);
      o.start(t);
      o.stop(t + dur + 0.02);
    }
  }

  /* --- the full-width result (2 s) --- */

  function showResult(kind, title, detail, member) {
    const el = $('#result');
    $('#result-title').textContent = title;
    $('#result-detail').textContent = detail || '';
    $('#result-member').textContent = member || '';
    el.className = 'result show ' + kind;
    el.dataset.kind = kind;
    clearTimeout(resultTimer);
    if (kind === 'pending') return; /* stays until the answer replaces it; no sound */
    beep(kind);
    resultTimer = setTimeout(clearResult, RESULT_MS);
  }

  function clearResult() {
    const el = $('#result');
    clearTimeout(resultTimer);
    el.className = 'result';
    delete el.dataset.kind;
    $('#result-title').textContent = '';
    $('#result-detail').textContent = '';
    $('#result-member').textContent = '';
  }

  /* "中高端 · 积分 1,250（+50）": a member's tier and points, in the green result */
  function memberLine(m) {
    if (!m) return '';
    return (m.tier || '') + ' · 积分 ' + K.num(m.balance) + (m.earned ? '（+' + K.num(m.earned) + '）' : '');
  }

  const REASONS = {
    bad_ticket: ['无效票', '二维码无法识别或已被篡改，请点“改用手机号签到”，按客人的手机号签到'],
    wrong_event: ['不是本场活动的票', '请核对客人报名的活动场次'],
    not_open_yet: ['签到尚未开始', '开场前2小时才能签到'],
    event_over: ['活动已结束', '本场活动已结束，不能再签到'],
    waitlisted: ['客人在候补名单中', '尚未递补；如有空位，请按“现场登记”办理'],
    ticket_cancelled: ['票已取消', '这张票已被取消'],
    ticket_replaced: ['票已作废', '客人有更新的票，请让客人出示最新的二维码'],
    signup_cancelled: ['报名已取消', '这位客人的报名已取消'],
    event_cancelled: ['活动已取消', '本场活动已取消'],
    no_signup: ['没有找到报名', '本场没有这个手机号或签到码的报名；可以按“现场登记”办理'],
    event_not_found: ['找不到活动', '这场活动不存在，请重新选择活动'],
    rate_limited: ['操作太频繁', '请稍等片刻再试'],
  };

  /* This tablet's name as the server recorded it at login (what check-ins
   * from here carry as first_device). */
  function thisDevice() {
    return (session && session.device) || K.deviceName();
  }

  /* "今天 14:00", "明天 11月27日（周五） 14:00": a time a refusal names. */
  function whenText(iso) {
    return (K.isToday(iso) ? '今天' : K.dayLabel(iso)) + ' ' + K.hm(iso);
  }

  /* The refusal's detail line, with what the answer says beyond its code. */
  function reasonDetail(e, why) {
    if (e.code === 'wrong_event' && e.event && e.event.title)
      return '这是「' + e.event.title + '」' + whenText(e.event.starts_at) + ' 的票';
    if (e.code === 'not_open_yet' && e.opens_at)
      return (K.isToday(e.opens_at) ? '' : K.dayLabel(e.opens_at) + ' ') + K.hm(e.opens_at) + ' 开始签到';
    return why[1];
  }

  /* After a ticket that is not valid, the way on: the phone check-in. */
  function offerPhone(on) {
    $('#to-phone').hidden = !on;
  }

  /* Shows a check-in answer; true when the guest is in. */
  function outcome(r, how) {
    if (r.status === 401) {
      clearResult();
      expired();
      return false;
    }
    const d = r.data || {};
    offerPhone(false);
    if (r.ok && d.status === 'checked_in') {
      lastCheckin = { checkin_id: d.checkin_id, signup_id: d.signup_id, name: d.name, at: d.at };
      renderUndo();
      showResult('ok', how === 'walkin' ? '签到成功（现场登记）' : '签到成功', d.name || '', memberLine(d.member));
      const ev = events.find((x) => x.id === eventId);
      members.afterCheckin(d, ev && ev.title);
      markRoster(d.signup_id, { checked_in: true, checkin_id: d.checkin_id, checked_in_at: d.at });
      return true;
    }
    if (r.ok && d.status === 'already_checked_in') {
      /* a rescan from this tablet after an answer that was lost: the guest is in, green */
      if (d.first_device === thisDevice() && Date.now() - Date.parse(d.first_at) < 60000) {
        showResult('ok', '刚才已签到成功', (d.name ? d.name + ' · ' : '') + '本机 ' + K.hms(d.first_at) + ' 已签到');
        return true;
      }
      showResult('warn', '已签到',
        (d.name ? d.name + ' · ' : '') + '首次签到 ' +
        (K.isToday(d.first_at) ? '' : K.dayLabel(d.first_at) + ' ') + K.hms(d.first_at) +
        ' · 设备 ' + (d.first_device || '未知'));
      return true;
    }
    const e = r.error || {};
    let why = REASONS[e.code];
    if (!why && r.status === 422) {
      const f = e.fields || {};
      if (f.ticket) why = ['扫码内容无法识别', '请重新扫码'];
      else if (f.phone) why = ['手机号不正确', K.fieldMessage('phone', f.phone)];
      else why = ['无法签到', '提交的内容不正确'];
    }
    if (!why) why = ['无法签到', '服务器返回错误（' + (e.code || r.status) + '），请重试或联系管理员'];
    showResult('bad', why[0], reasonDetail(e, why));
    offerPhone(e.code === 'bad_ticket');
    return false;
  }

  function unreachableResult(e) {
    if (e && e.message === 'timeout') {
      /* the server may have recorded it: say so, and a rescan tells */
      showResult('warn', '结果未知', '网络太慢，不确定是否已签到。请再扫一次：已签到会显示“刚才已签到成功”');
      return;
    }
    showResult('bad', '无法连接服务器', '这次没有签到。请检查 Wi-Fi，恢复后再扫一次');
  }

  /* --- the connection banner --- */

  function renderConn() {
    const b = $('#conn');
    if (!session) {
      b.hidden = true;
      return;
    }
    if (!reachable || navigator.onLine === false) {
      b.className = 'conn bad';
      b.textContent = '无法连接签到服务器。请检查 Wi-Fi；恢复后会自动重连。在此之前扫码不会被记录。';
      b.hidden = false;
    } else if (liveDownSince && Date.now() - liveDownSince > 2500) {
      b.className = 'conn warn';
      b.textContent = '实时更新已断开，正在重新连接……人数可能不是最新。';
      b.hidden = false;
    } else {
      b.hidden = true;
    }
  }

  function probe() {
    clearTimeout(probeTimer);
    K.api('GET', '/healthz', undefined, { timeout: PROBE_MS })
      .catch(() => null)
      .then(() => {
        if (!reachable && session) probeTimer = setTimeout(probe, PROBE_MS);
      });
  }

  K.onReach = function (ok) {
    if (ok === reachable) return;
    reachable = ok;
    if (ok) {
      clearTimeout(probeTimer);
      if (live) live.retryNow();
      refreshStats();
    } else {
      probeTimer = setTimeout(probe, PROBE_MS);
    }
    renderConn();
  };

  function heartbeat() {
    clearTimeout(heartbeatTimer);
    if (!session) return;
    K.api('GET', '/healthz', undefined, { timeout: 5000 }).catch(() => null);
    heartbeatTimer = setTimeout(heartbeat, HEARTBEAT_MS);
  }

  window.addEventListener('online', () => {
    renderConn();
    probe();
  });
  window.addEventListener('offline', renderConn);

  /* --- login --- */

  function showView(name) {
    $('#login-view').hidden = name !== 'login';
    $('#desk-view').hidden = name !== 'desk';
    const inDesk = name === 'desk';
    $('#who').hidden = !inDesk;
    $('#logout').hidden = !inDesk;
    $('#stats-link').hidden = !inDesk;
  }

  function showLogin(message) {
    session = null;
    stopLive();
    stopCamera();
    clearWaitlist(); /* nothing of a guest stays for whoever logs in next */
    clearRoster();
    members.stop();
    calls.stop();
    clearTimeout(heartbeatTimer);
    clearTimeout(probeTimer);
    reachable = true;
    renderConn();
    $('#login-form').reset();
    $('#login-error').textContent = message || '';
    $('#login-device').value = K.deviceName();
    showView('login');
    $('#login-id').focus();
  }

  function expired() {
    K.clearSession();
    showLogin('登录已过期，请重新登录。');
  }

  async function onLogin(e) {
    e.preventDefault();
    unlockAudio();
    const id = $('#login-id').value.trim();
    const pin = $('#login-pin').value;
    const device = $('#login-device').value.trim();
    $('#login-error').textContent = '';
    if (!id || !pin) {
      $('#login-error').textContent = '请填写工号和密码。';
      (id ? $('#login-pin') : $('#login-id')).focus();
      return;
    }
    if (!K.validDeviceName(device)) {
      $('#login-error').textContent = device ? '平板名称只能包含文字、数字、空格和 -，最多16个字。' : '请给这台平板起个名称，例如 东门1号。';
      $('#login-device').focus();
      return;
    }
    K.setDeviceName(device);
    const button = $('#login-submit');
    button.disabled = true;
    let res;
    try {
      res = await K.login(id, pin, device);
    } catch (err) {
      res = { error: '无法连接签到服务器，请检查 Wi-Fi 后重试。' };
    } finally {
      button.disabled = false;
    }
    if (res.error) {
      $('#login-error').textContent = res.error;
      $('#login-pin').value = '';
      $('#login-pin').focus();
      return;
    }
    startDesk(res.session);
  }

  async function onLogout() {
    const s = session;
    K.clearSession();
    showLogin('已退出。');
    if (s) K.api('POST', '/api/v1/staff/logout', undefined, { token: s.token }).catch(() => null);
  }

  /* --- the desk --- */

  function startDesk(s) {
    session = s;
    $('#who').textContent = s.staff_id + '（' + K.roleLabel(s.role) + '）· 本机 ' + thisDevice();
    $('#manager-panel').hidden = !(s.role === 'manager' || s.role === 'admin');
    showView('desk');
    members.start();
    calls.start();
    heartbeat();
    loadEvents();
  }

  function eventLabel(ev) {
    return K.dayLabel(ev.starts_at) + ' ' + K.hm(ev.starts_at) + ' · ' + ev.title;
  }

  async function loadEvents() {
    let r;
    try {
      r = await K.api('GET', '/api/v1/events');
    } catch (e) {
      $('#event-note').textContent = '无法连接服务器，正在重试……';
      setTimeout(() => session && loadEvents(), PROBE_MS);
      return;
    }
    if (!r.ok || !r.data) {
      $('#event-note').textContent = '活动列表暂时无法读取，请稍后刷新。';
      return;
    }
    events = (r.data.events || []).filter((ev) => !ev.branch); // this branch's own
    const sel = $('#event-select');
    sel.replaceChildren(...events.map((ev) => h('option', { value: ev.id, text: eventLabel(ev) })));
    if (!events.length) {
      $('#event-note').textContent = '近期没有活动。';
      selectEvent(null);
      return;
    }
    const saved = parseInt(sessionStorage.getItem('kioskd.event') || '', 10);
    const pick = events.find((ev) => ev.id === saved) || events.find((ev) => K.isToday(ev.starts_at)) || events[0];
    sel.value = String(pick.id);
    selectEvent(pick.id);
  }

  function selectEvent(id) {
    eventId = id;
    stopLive();
    lastCheckin = null;
    renderUndo();
    members.forgetLast();
    feed = [];
    renderFeed();
    clearRoster();
    setCounts(null);
    $('#scan').disabled = !id;
    if (!id) return;
    sessionStorage.setItem('kioskd.event', String(id));
    const ev = events.find((e) => e.id === id);
    $('#event-note').textContent = ev ? K.whenLabel(ev.starts_at, ev.ends_at) + ' · ' + ev.venue : '';
    $('#stats-link').href = '/staff/stats?event=' + encodeURIComponent(id);
    refreshStats();
    loadWaitlist();
    live = new K.Live(id, session.token, {
      onMessage: onLive,
      onState: (st) => {
        document.body.dataset.live = st;
        if (st === 'open') liveDownSince = null;
        else if (!liveDownSince) liveDownSince = Date.now();
        if (st === 'closed') probe();
        renderConn();
        setTimeout(renderConn, 3000);
      },
      onRefused: checkToken,
    });
    live.start();
    focusScan();
  }

  function stopLive() {
    clearWaitlist(); /* what one event's desk showed leaves with it */
    if (live) live.stop();
    live = null;
    liveDownSince = null;
  }

  async function checkToken() {
    if (!session) return;
    try {
      const r = await K.api('GET', '/api/v1/staff/me', undefined, { token: session.token });
      if (r.status === 401) expired();
    } catch (e) {
      /* unreachable: the banner says so */
    }
  }

  async function refreshStats() {
    if (!session || !eventId) return;
    const id = eventId;
    let r;
    try {
      r = await K.api('GET', '/api/v1/events/' + id + '/stats', undefined, { token: session.token });
    } catch (e) {
      return;
    }
    if (r.status === 401) return expired();
    if (r.ok && id === eventId) setCounts(r.data);
  }

  function setCounts(c) {
    const txt = (v) => (v === undefined || v === null ? '–' : String(v));
    $('#c-signed').textContent = txt(c && c.signed_up);
    $('#c-capacity').textContent = c && c.capacity ? ' / ' + c.capacity : '';
    $('#c-checked').textContent = txt(c && c.checked_in);
    $('#c-walkins').textContent = txt(c && c.walk_ins);
    $('#c-waitlisted').textContent = txt(c && c.waitlisted);
  }

  function onLive(msg) {
    if (msg.event_id !== undefined && msg.event_id !== eventId) return;
    if (msg.counts) setCounts(msg.counts);
    if (WAITLIST_CHANGES.includes(msg.type)) waitlistChanged();
    if (msg.type === 'checkin' || msg.type === 'walkin') {
      feed = feed.filter((f) => f.checkin_id !== msg.checkin_id);
      feed.unshift({ checkin_id: msg.checkin_id, name: msg.name, at: msg.at, device: msg.device, walkin: msg.type === 'walkin' });
      feed = feed.slice(0, 8);
      renderFeed();
      markRoster(msg.signup_id, { checked_in: true, checkin_id: msg.checkin_id, checked_in_at: msg.at });
    } else if (msg.type === 'undo') {
      feed = feed.filter((f) => f.checkin_id !== msg.checkin_id);
      renderFeed();
      markRoster(msg.signup_id, { checked_in: false, checkin_id: undefined, checked_in_at: undefined });
      if (lastCheckin && lastCheckin.checkin_id === msg.checkin_id) {
        lastCheckin = null;
        renderUndo();
        members.forgetLast();
      }
    } else if (msg.type === 'event_cancelled') {
      showResult('bad', '本场活动已取消', '请重新选择活动');
      $('#event-note').textContent = '本场活动已被取消。';
    }
  }

  function renderFeed() {
    const ol = $('#feed');
    ol.replaceChildren(...feed.map((f) =>
      h('li', null,
        h('span', { class: 'feed-time', text: K.hms(f.at) }), ' ',
        h('strong', { text: f.name || '' }), ' ',
        h('span', { class: 'feed-dev', text: (f.walkin ? '现场登记 · ' : '') + (f.device || '') }))));
    $('#feed-empty').hidden = feed.length > 0;
  }

  /* --- scanning --- */

  async function checkIn(body, how) {
    if (!session || !eventId) return false;
    let r;
    showResult('pending', '正在签到…', '');
    try {
      r = await K.api('POST', how === 'walkin' ? '/api/v1/events/' + eventId + '/walkins' : '/api/v1/checkins',
        body, { token: session.token, timeout: 6000 });
    } catch (e) {
      unreachableResult(e);
      return null;
    }
    return { ok: outcome(r, how), r };
  }

  function scanText(text) {
    const code = String(text || '').trim();
    if (!code) return;
    /* six digits typed by hand: the short code on the guest's slip or screen */
    if (/^[0-9]{6}$/.test(code.replace(/\s/g, ''))) return checkIn({ event_id: eventId, code: code.replace(/\s/g, '') }, 'code');
    return checkIn({ ticket: code, event_id: eventId }, 'scan');
  }

  function focusScan() {
    const scan = $('#scan');
    if (!scan.disabled && !$('#desk-view').hidden) scan.focus({ preventScroll: true });
  }

  $('#scan-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const input = $('#scan');
    const text = input.value;
    input.value = ''; /* ready for the next guest at once */
    unlockAudio();
    scanText(text);
    focusScan();
  });

  /*
   * A scanner types into whatever has focus. Outside a text field its keys go
   * to the scan field. Inside another text field (the roster search, the
   * phone field) a scanner burst is recognised by its speed (keys less than
   * SCAN_GAP_MS apart) or by a ticket's `K1.` prefix, and ends in Enter: the
   * field gets back what it held before the burst and the burst is checked in.
   */
  const SCAN_GAP_MS = 30;
  const SCAN_MIN = 8; /* a fast burst shorter than this is a person typing */
  let burst = { field: null, text: '', before: '', last: 0, fast: true };
  function burstReset(field) {
    burst = { field, text: '', before: field ? field.value : '', last: 0, fast: true };
  }
  document.addEventListener('keydown', (e) => {
    unlockAudio();
    if (!session || $('#desk-view').hidden) return;
    const a = document.activeElement;
    const typing = a && a.matches('input:not([type="checkbox"]):not([type="button"]):not([type="submit"]), select, textarea');
    if (!typing) {
      if (e.key.length === 1 && e.key !== ' ' && !e.ctrlKey && !e.metaKey && !e.altKey) focusScan();
      return;
    }
    if (a === $('#scan') || a.tagName === 'SELECT') return;
    const now = performance.now();
    if (burst.field !== a || (burst.last && now - burst.last > 1000)) burstReset(a);
    if (e.key === 'Enter') {
      const text = burst.text;
      const scanned = text.startsWith('K1.') || (burst.fast && text.length >= SCAN_MIN);
      if (scanned) {
        e.preventDefault();
        e.stopPropagation();
        a.value = burst.before;
        burstReset(null);
        scanText(text);
        focusScan();
      } else {
        burstReset(a);
      }
      return;
    }
    if (e.key.length !== 1 || e.ctrlKey || e.metaKey || e.altKey) {
      burstReset(a);
      return;
    }
    if (burst.last && now - burst.last >= SCAN_GAP_MS) burst.fast = false;
    if (!burst.text) burst.before = a.value;
    burst.text += e.key;
    burst.last = now;
  }, true);
  document.addEventListener('pointerdown', unlockAudio, true);

  /* --- camera scanner (getUserMedia + BarcodeDetector, or jsQR) --- */

  let camStream = null;
  let camTimer = null;
  let detector = null;
  let lastCam = { text: '', at: 0 };

  function loadJsQR() {
    if (window.jsQR) return Promise.resolve(window.jsQR);
    return new Promise((resolve, reject) => {
      const s = document.createElement('script');
      s.src = '/assets/jsQR.js';
      s.onload = () => (window.jsQR ? resolve(window.jsQR) : reject(new Error('jsQR')));
      s.onerror = () => reject(new Error('jsQR'));
      document.head.append(s);
    });
  }

  async function makeDecoder() {
    if ('BarcodeDetector' in window) {
      try {
        const formats = await window.BarcodeDetector.getSupportedFormats();
        if (formats.includes('qr_code')) {
          detector = new window.BarcodeDetector({ formats: ['qr_code'] });
          return async (video) => {
            const codes = await detector.detect(video);
            return codes.length ? codes[0].rawValue : null;
          };
        }
      } catch (e) {
        /* fall back to jsQR */
      }
    }
    const jsQR = await loadJsQR();
    const canvas = document.createElement('canvas');
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    return async (video) => {
      const w = video.videoWidth;
      const hgt = video.videoHeight;
      if (!w || !hgt) return null;
      const scale = Math.min(1, 640 / Math.max(w, hgt));
      canvas.width = Math.round(w * scale);
      canvas.height = Math.round(hgt * scale);
      ctx.drawImage(video, 0, 0, canvas.width, canvas.height);
      const img = ctx.getImageData(0, 0, canvas.width, canvas.height);
      const code = jsQR(img.data, img.width, img.height, { inversionAttempts: 'dontInvert' });
      return code ? code.data : null;
    };
  }

  async function startCamera() {
    const status = $('#camera-status');
    const video = $('#camera');
    status.textContent = '正在打开摄像头……';
    let decode;
    try {
      decode = await makeDecoder();
      camStream = await navigator.mediaDevices.getUserMedia({
        video: { facingMode: 'environment', width: { ideal: 1280 }, height: { ideal: 720 } },
        audio: false,
      });
    } catch (e) {
      camStream = null;
      const name = e && e.name;
      status.textContent = name === 'NotAllowedError' ? '没有摄像头权限：请在浏览器设置中允许使用摄像头。'
        : name === 'NotFoundError' || name === 'OverconstrainedError' ? '本机没有可用的摄像头。'
          : name === 'NotReadableError' ? '摄像头正被其他程序使用。'
            : '摄像头无法使用，请改用扫码枪。';
      return;
    }
    video.srcObject = camStream;
    video.hidden = false;
    await video.play().catch(() => null);
    $('#camera-toggle').textContent = '关闭摄像头';
    status.textContent = '请把二维码对准摄像头。';
    const tick = async () => {
      if (!camStream) return;
      let text = null;
      try {
        text = await decode(video);
      } catch (e) {
        text = null;
      }
      const now = Date.now();
      /* the same code stays in view: scan it once, not every frame */
      if (text && !(text === lastCam.text && now - lastCam.at < 4000)) {
        lastCam = { text, at: now };
        scanText(text);
      } else if (text) {
        lastCam.at = now;
      }
      if (camStream) camTimer = setTimeout(tick, 150);
    };
    tick();
  }

  function stopCamera() {
    clearTimeout(camTimer);
    if (camStream) for (const t of camStream.getTracks()) t.stop();
    camStream = null;
    const video = $('#camera');
    video.srcObject = null;
    video.hidden = true;
    $('#camera-toggle').textContent = '用摄像头扫码';
    $('#camera-status').textContent = '';
  }

  if (navigator.mediaDevices && typeof navigator.mediaDevices.getUserMedia === 'function') {
    $('#camera-toggle').hidden = false;
    $('#camera-toggle').addEventListener('click', () => (camStream ? stopCamera() : startCamera()));
  }

  /* --- undo (two taps: the first asks, the second does it) --- */

  const armed = K.armed;

  function renderUndo() {
    const b = $('#undo');
    delete b.dataset.armed;
    b.textContent = '撤销上一次签到';
    b.disabled = !lastCheckin;
    $('#undo-info').textContent = lastCheckin
      ? '本机上一次签到：' + (lastCheckin.name || '') + '（' + K.hms(lastCheckin.at) + '）'
      : '本机还没有可撤销的签到。';
  }

  async function undoCheckin(checkinId, name) {
    let r;
    try {
      r = await K.api('DELETE', '/api/v1/checkins/' + checkinId, undefined, { token: session.token });
    } catch (e) {
      $('#undo-status').textContent = '无法连接服务器，没有撤销。';
      return;
    }
    if (r.status === 401) return expired();
    if (r.ok || (r.error && r.error.code === 'already_undone')) {
      $('#undo-status').textContent = r.ok ? '已撤销 ' + (name || '') + ' 的签到。' : '这次签到之前已被撤销。';
      if (lastCheckin && lastCheckin.checkin_id === checkinId) {
        lastCheckin = null;
        renderUndo();
        members.forgetLast();
      }
      for (const [sid, g] of rosterRows) {
        if (g.checkin_id === checkinId) markRoster(sid, { checked_in: false, checkin_id: undefined, checked_in_at: undefined });
      }
    } else {
      $('#undo-status').textContent = '没有撤销：' + ((r.error && r.error.message) || r.status);
    }
  }

  $('#undo').addEventListener('click', (e) => {
    if (!lastCheckin) return;
    const c = lastCheckin;
    armed(e.currentTarget, '再点一次：撤销 ' + (c.name || '') + ' 的签到', () => undoCheckin(c.checkin_id, c.name));
  });

  /* --- roster --- */

  const STATUS = { confirmed: '已报名', waitlisted: '候补', cancelled: '已取消' };
  const SOURCE = { kiosk: '自助机', walkin: '现场登记', bot: '公众号', staff: '工作人员', import: '导入' };

  function clearRoster() {
    rosterRows.clear();
    $('#roster tbody').replaceChildren();
    $('#roster').hidden = true;
    $('#roster-status').textContent = '';
  }

  function rosterRow(g) {
    const when = g.checked_in ? '✓ ' + K.hms(g.checked_in_at) : '未签到';
    const undo = g.checked_in && g.checkin_id
      ? h('button', { type: 'button', class: 'small danger', 'aria-label': '撤销 ' + g.name + ' 的签到', onclick: (e) =>
        armed(e.currentTarget, '确认撤销', () => undoCheckin(g.checkin_id, g.name)) }, '撤销')
      : g.status !== 'cancelled'
        ? h('button', { type: 'button', class: 'small danger', 'aria-label': '取消 ' + g.name + ' 的报名', onclick: (e) =>
          armed(e.currentTarget, '确认取消', () => cancelSignup(g)) }, '取消报名')
        : null;
    return h('tr', { 'data-signup': g.signup_id, class: g.checked_in ? 'in' : '' },
      h('td', { text: g.name }),
      h('td', { text: g.phone }),
      h('td', null, STATUS[g.status] || g.status, SOURCE[g.source] ? h('span', { class: 'source', text: SOURCE[g.source] }) : null),
      h('td', { text: when }),
      h('td', null, undo));
  }

  /* A guest who rang to say they cannot come: their place goes to the waitlist. */
  async function cancelSignup(g) {
    let r;
    try {
      r = await K.api('DELETE', '/api/v1/events/' + eventId + '/signups/' + g.signup_id, undefined, { token: session.token });
    } catch (e) {
      $('#roster-status').textContent = '无法连接服务器，没有取消，请稍后再试。';
      return;
    }
    if (r.status === 401) return expired();
    if (r.ok) {
      markRoster(g.signup_id, { status: 'cancelled' });
      $('#roster-status').textContent = '已取消 ' + g.name + ' 的报名；如有候补，已按顺序递补。';
      refreshStats();
      return;
    }
    const code = (r.error || {}).code;
    $('#roster-status').textContent = code === 'checked_in'
      ? g.name + ' 已签到，请先撤销签到再取消报名。'
      : code === 'already_cancelled' ? g.name + ' 的报名已经取消了。' : '没有取消，请稍后再试或联系管理员。';
  }

  function markRoster(signupId, changes) {
    const g = rosterRows.get(signupId);
    if (!g) return;
    Object.assign(g, changes);
    const old = $('#roster tbody tr[data-signup="' + signupId + '"]');
    if (old) old.replaceWith(rosterRow(g));
  }

  async function searchRoster(q) {
    if (!session || !eventId) return;
    const status = $('#roster-status');
    q = q.trim();
    if (q && !/^[0-9]{4}$/.test(q) && /^[0-9]+$/.test(q)) {
      status.textContent = '按手机号查找请输入尾号后4位。';
      return;
    }
    status.textContent = '正在查找……';
    let r;
    try {
      r = await K.api('GET', '/api/v1/events/' + eventId + '/roster' + (q ? '?q=' + encodeURIComponent(q) : ''),
        undefined, { token: session.token });
    } catch (e) {
      status.textContent = '无法连接服务器。';
      return;
    }
    if (r.status === 401) return expired();
    if (!r.ok) {
      status.textContent = r.status === 422 ? '请输入姓名中的字，或手机尾号后4位。' : '查找失败（' + r.status + '）。';
      return;
    }
    const guests = r.data.guests || [];
    rosterRows.clear();
    for (const g of guests) rosterRows.set(g.signup_id, g);
    $('#roster tbody').replaceChildren(...guests.map(rosterRow));
    $('#roster').hidden = guests.length === 0;
    const inCount = guests.filter((g) => g.checked_in).length;
    status.textContent = guests.length
      ? (q ? '找到 ' : '共 ') + guests.length + ' 人，已签到 ' + inCount + ' 人。'
      : q ? '没有找到“' + q + '”。' : '本场还没有人报名。';
  }

  $('#roster-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    await searchRoster($('#roster-q').value);
    focusScan(); /* the next guest's scan goes where it belongs */
  });
  $('#roster-all').addEventListener('click', () => {
    $('#roster-q').value = '';
    searchRoster('');
  });

  /* --- waitlist: the guests to call, in the order places are given --- */

  const WAITLIST_CHANGES = ['signup', 'signup_cancelled', 'waitlist_promoted'];
  const REVEAL_MS = 30000;
  const revealTimers = new Set();
  let waitlistTimer = null;

  function clearWaitlist() {
    for (const t of revealTimers) clearTimeout(t);
    revealTimers.clear();
    clearTimeout(waitlistTimer);
    $('#waitlist').replaceChildren();
    $('#waitlist').hidden = true;
    $('#waitlist-status').textContent = '';
  }

  /* a burst of live messages reloads the list once */
  function waitlistChanged() {
    clearTimeout(waitlistTimer);
    waitlistTimer = setTimeout(loadWaitlist, 500);
  }

  function waitlistRow(w) {
    const masked = '*******' + w.phone_last4;
    const phone = h('span', { class: 'wl-phone', text: masked });
    const button = h('button', { type: 'button', class: 'reveal', 'aria-label': '显示 ' + w.name + ' 的手机号码' }, '显示号码');
    button.addEventListener('click', () => {
      if (button.hideNow) button.hideNow();
      else revealPhone(w, phone, button, masked);
    });
    return h('li', { 'data-signup': w.signup_id },
      h('span', { class: 'wl-pos', text: '第 ' + w.position + ' 位' }),
      h('span', { class: 'wl-name', text: w.name }),
      phone, button);
  }

  async function loadWaitlist() {
    clearTimeout(waitlistTimer);
    if (!session || !eventId) return;
    const id = eventId;
    const status = $('#waitlist-status');
    let r;
    try {
      r = await K.api('GET', '/api/v1/events/' + id + '/waitlist', undefined, { token: session.token });
    } catch (e) {
      status.textContent = '无法连接服务器，候补名单暂时无法显示。';
      return;
    }
    if (id !== eventId) return;
    if (r.status === 401) return expired();
    if (!r.ok || !r.data || !Array.isArray(r.data.waitlist)) {
      status.textContent = '候补名单暂时无法显示（' + r.status + '）。';
      return;
    }
    for (const t of revealTimers) clearTimeout(t);
    revealTimers.clear();
    const list = r.data.waitlist;
    $('#waitlist').replaceChildren(...list.map(waitlistRow));
    $('#waitlist').hidden = list.length === 0;
    status.textContent = list.length ? '共 ' + list.length + ' 人候补。' : '本场没有候补的客人。';
  }

  /* The full number, to call the guest; every reveal is recorded on the
   * server, and the number leaves the screen again after REVEAL_MS. */
  async function revealPhone(w, phone, button, masked) {
    const status = $('#waitlist-status');
    button.disabled = true;
    let r;
    try {
      r = await K.api('POST', '/api/v1/events/' + eventId + '/waitlist/' + w.signup_id + '/reveal', {},
        { token: session.token });
    } catch (e) {
      button.disabled = false;
      status.textContent = '无法连接服务器，请稍后再试。';
      return;
    }
    if (r.status === 401) return expired();
    if (!r.ok || !r.data || !r.data.phone) {
      button.disabled = false;
      status.textContent = r.status === 404
        ? w.name + ' 已不在候补名单中（可能已递补或取消），名单已刷新。'
        : '暂时无法显示号码（' + r.status + '）。';
      if (r.status === 404) loadWaitlist();
      return;
    }
    phone.textContent = r.data.phone;
    phone.classList.add('revealed');
    button.textContent = '隐藏';
    button.disabled = false;
    const hide = () => {
      clearTimeout(timer);
      revealTimers.delete(timer);
      phone.textContent = masked;
      phone.classList.remove('revealed');
      button.textContent = '显示号码';
      button.hideNow = null;
    };
    const timer = setTimeout(hide, REVEAL_MS);
    revealTimers.add(timer);
    button.hideNow = hide;
  }

  $('#waitlist-refresh').addEventListener('click', loadWaitlist);

  /* --- check-in by phone --- */

  $('#to-phone').addEventListener('click', () => {
    offerPhone(false);
    const input = $('#phone-input');
    input.scrollIntoView({ block: 'center' });
    input.focus();
  });

  $('#phone-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const input = $('#phone-input');
    const phone = input.value.replace(/[\s-]/g, '');
    const err = $('#phone-error');
    err.textContent = '';
    input.removeAttribute('aria-invalid');
    if (!K.isMobile(phone)) {
      err.textContent = phone ? K.fieldMessage('phone', 'must be an 11-digit mainland mobile number') : '请填写客人的手机号';
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      return;
    }
    const res = await checkIn({ event_id: eventId, phone }, 'phone');
    if (res && res.r.ok) {
      input.value = '';
      focusScan();
    }
  });

  /* --- walk-in --- */

  $('#walkin-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = {
      name: [$('#w-name'), $('#we-name')],
      phone: [$('#w-phone'), $('#we-phone')],
      consent: [$('#w-consent'), $('#we-consent')],
    };
    for (const [input, err] of Object.values(f)) {
      err.textContent = '';
      input.removeAttribute('aria-invalid');
    }
    $('#walkin-error').textContent = '';
    const set = (k, text) => {
      f[k][1].textContent = text;
      f[k][0].setAttribute('aria-invalid', 'true');
    };
    const name = $('#w-name').value.trim();
    const phone = $('#w-phone').value.replace(/[\s-]/g, '');
    if (!name) set('name', '请填写姓名');
    else if (K.nameLength(name) > 32) set('name', K.fieldMessage('name', 'is longer than 32 characters'));
    if (!phone) set('phone', '请填写手机号');
    else if (!K.isMobile(phone)) set('phone', K.fieldMessage('phone', 'must be an 11-digit mainland mobile number'));
    if (!$('#w-consent').checked) set('consent', '请先征得客人同意并勾选');
    const bad = Object.values(f).find(([input]) => input.getAttribute('aria-invalid'));
    if (bad) {
      bad[0].focus();
      return;
    }
    const res = await checkIn({ name, phone, consent: true }, 'walkin');
    if (!res) return;
    if (res.r.ok) {
      $('#walkin-form').reset();
      focusScan();
      return;
    }
    const err = res.r.error || {};
    if (res.r.status === 422 && err.fields) {
      for (const [k, m] of Object.entries(err.fields)) if (f[k]) set(k, K.fieldMessage(k, m));
    }
  });

  /* --- start --- */

  members = KMembers.init({ session: () => session, expired, focusScan });
  calls = KCalls.init({ session: () => session, expired });

  $('#login-form').addEventListener('submit', onLogin);
  $('#logout').addEventListener('click', onLogout);
  $('#event-select').addEventListener('change', (e) => selectEvent(parseInt(e.target.value, 10)));

  const saved = K.session();
  if (saved) startDesk(saved);
  else showLogin('');
})();
