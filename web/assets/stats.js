/*
 * The stats dashboard (/staff/stats?event=ID): how the meeting went in one
 * line, where the sign-ups came from, the no-show list for follow-up, the
 * guest list as a CSV (managers), the event's funnel and its check-ins over
 * time, as inline SVG drawn here (no chart library). The check-in times come
 * from the roster's checked_in_at values; the live websocket keeps the
 * counts and charts current without reloading.
 */
'use strict';

(function () {
  const { $, h } = K;
  const SVG = 'http://www.w3.org/2000/svg';

  let session = null;
  let events = [];
  let eventId = null;
  let stats = null;
  let checkins = new Map(); /* checkin_id (or "s"+signup_id) -> time in ms */
  let live = null;
  let statsTimer = null;
  let noShowsKey = null; /* what the no-show list was read for: "id:checked_in:over" */

  const SOURCES = [
    ['kiosk', '自助机'],
    ['bot', '微信机器人'],
    ['staff', '工作人员'],
    ['referral', '推荐'],
    ['walkin', '现场登记'],
  ];
  const sourceLabel = (src) => (SOURCES.find((x) => x[0] === src) || [src, src])[1];

  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
    for (const c of children) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return el;
  }

  /* --- login --- */

  function showLogin(message) {
    session = null;
    if (live) live.stop();
    live = null;
    $('#login-view').hidden = false;
    $('#stats-view').hidden = true;
    $('#who').hidden = true;
    $('#login-error').textContent = message || '';
    $('#login-id').focus();
  }

  function expired() {
    K.clearSession();
    showLogin('登录已过期，请重新登录。');
  }

  $('#login-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const id = $('#login-id').value.trim();
    const pin = $('#login-pin').value;
    if (!id || !pin) {
      $('#login-error').textContent = '请填写工号和密码。';
      return;
    }
    let res;
    try {
      res = await K.login(id, pin);
    } catch (err) {
      res = { error: '无法连接服务器，请检查 Wi-Fi 后重试。' };
    }
    if (res.error) {
      $('#login-error').textContent = res.error;
      $('#login-pin').value = '';
      return;
    }
    $('#login-form').reset();
    start(res.session);
  });

  K.onReach = (ok) => {
    const b = $('#conn');
    b.hidden = ok;
    if (!ok) {
      b.className = 'conn bad';
      b.textContent = '无法连接服务器，数据可能不是最新。恢复后会自动更新。';
    } else if (live) {
      live.retryNow();
    }
  };

  /* --- data --- */

  function start(sess) {
    session = sess;
    $('#login-view').hidden = true;
    $('#stats-view').hidden = false;
    $('#who').hidden = false;
    $('#who').textContent = sess.staff_id + '（' + K.roleLabel(sess.role) + '）';
    const manager = sess.role === 'manager' || sess.role === 'admin';
    $('#export').hidden = !manager;
    $('#upfunnel-card').hidden = !manager;
    $('#botstats-card').hidden = true;
    $('#msgs-card').hidden = true;
    $('#camps-card').hidden = true;
    loadEvents();
    if (manager) {
      loadFunnel();
      loadBotStats();
      loadMessages();
      loadCampaigns();
    }
  }

  async function loadEvents() {
    let r;
    try {
      r = await K.api('GET', '/api/v1/staff/events', undefined, { token: session.token });
    } catch (e) {
      setTimeout(() => session && loadEvents(), 3000);
      return;
    }
    events = (r.ok && r.data && r.data.events) || [];
    const wanted = parseInt(new URLSearchParams(location.search).get('event') || sessionStorage.getItem('kioskd.event') || '', 10);
    const sel = $('#event-select');
    const opts = events.map((ev) => h('option', { value: ev.id, text: K.dayLabel(ev.starts_at) + ' ' + K.hm(ev.starts_at) + ' · ' + ev.title }));
    /* the list covers the last 30 days; an older event is still reachable by its id */
    if (wanted > 0 && !events.some((ev) => ev.id === wanted)) {
      opts.unshift(h('option', { value: wanted, text: '活动 #' + wanted }));
    }
    sel.replaceChildren(...opts);
    if (!opts.length) {
      $('#event-note').textContent = '近期没有活动。';
      return;
    }
    const pick = wanted > 0 ? wanted
      : (events.find((ev) => K.isToday(ev.starts_at)) || events[0]).id;
    sel.value = String(pick);
    select(pick);
  }

  async function select(id) {
    eventId = id;
    if (live) live.stop();
    stats = null;
    noShowsKey = null;
    checkins = new Map();
    $('#summary').textContent = '';
    $('#export-status').textContent = '';
    $('#sources tbody').replaceChildren();
    $('#noshow-note').textContent = '';
    $('#no-shows').hidden = true;
    history.replaceState(null, '', '/staff/stats?event=' + encodeURIComponent(id));
    sessionStorage.setItem('kioskd.event', String(id));
    const ev = events.find((e) => e.id === id);
    $('#event-note').textContent = ev ? K.whenLabel(ev.starts_at, ev.ends_at) + ' · ' + ev.venue : '';
    await Promise.all([loadStats(), loadRoster()]);
    live = new K.Live(id, session.token, {
      onMessage,
      onRefused: async () => {
        try {
          const r = await K.api('GET', '/api/v1/staff/me', undefined, { token: session.token });
          if (r.status === 401) expired();
        } catch (e) {
          /* unreachable */
        }
      },
    });
    live.start();
  }

  async function loadStats() {
    const id = eventId;
    let r;
    try {
      r = await K.api('GET', '/api/v1/events/' + id + '/stats', undefined, { token: session.token });
    } catch (e) {
      return;
    }
    if (r.status === 401) return expired();
    if (id !== eventId) return;
    if (!r.ok) {
      $('#funnel-note').textContent = r.status === 404 ? '找不到这场活动。' : '统计暂时无法读取（' + r.status + '）。';
      return;
    }
    stats = r.data;
    drawFunnel();
    drawSummary();
    drawSources();
    loadNoShows();
  }

  /* The list shows people, and every read of it is audited: read it again
   * only when a check-in or the end of the event can have changed it. */
  async function loadNoShows() {
    const id = eventId;
    const st = stats;
    const ev = events.find((e) => e.id === id);
    const started = st.over || (ev && Date.parse(ev.starts_at) <= Date.now());
    const note = $('#noshow-note');
    if (!started) {
      note.textContent = '活动开始后显示尚未签到的客人，结束后为最终的未到场名单。';
      $('#no-shows').hidden = true;
      return;
    }
    const key = id + ':' + st.checked_in + ':' + st.over;
    if (key === noShowsKey) return;
    noShowsKey = key;
    let r;
    try {
      r = await K.api('GET', '/api/v1/events/' + id + '/no_shows', undefined, { token: session.token });
    } catch (e) {
      noShowsKey = null;
      return;
    }
    if (r.status === 401) return expired();
    if (id !== eventId) return;
    if (!r.ok) {
      noShowsKey = null;
      note.textContent = r.status === 409 ? '活动开始后显示。' : '名单暂时无法读取（' + r.status + '）。';
      return;
    }
    const guests = r.data.guests || [];
    note.textContent = (r.data.over ? '活动已结束，以下客人预约了但没有到场，可安排回访。' : '活动进行中，以下客人尚未签到。') +
      ' 共 ' + guests.length + ' 人。';
    $('#no-shows tbody').replaceChildren(...guests.map((g) =>
      h('tr', null, h('td', { text: g.name }), h('td', { text: g.phone }), h('td', { text: sourceLabel(g.source) }))));
    $('#no-shows').hidden = guests.length === 0;
  }

  /* --- the summary line: 预约 5 人，到场 4 人（80%），现场登记 1，未到场 1 --- */

  function drawSummary() {
    if (!stats) return;
    const st = stats;
    const arrived = Math.max(0, st.checked_in - st.walk_ins);
    const pct = st.signed_up > 0 ? '（' + Math.round((arrived * 100) / st.signed_up) + '%）' : '';
    const missing = st.over ? '未到场 ' + st.no_shows : '尚未签到 ' + Math.max(0, st.signed_up - arrived);
    const upgrades = st.upgrades_registered ? '，升级登记 ' + st.upgrades_registered + '，批准 ' + (st.upgrades_approved || 0) : '';
    $('#summary').textContent = '预约 ' + st.signed_up + ' 人，到场 ' + arrived + ' 人' + pct +
      '，现场登记 ' + st.walk_ins + '，' + missing + (st.over ? '' : '（活动未结束）') + upgrades;
  }

  function drawSources() {
    if (!stats || !stats.by_source) return;
    const by = stats.by_source;
    $('#sources tbody').replaceChildren(...SOURCES.map(([key, label]) =>
      h('tr', null, h('th', { scope: 'row', text: label }), h('td', { text: by[key] || 0 }))));
  }

  /* --- the export: the route needs the token, which a link cannot send,
   * so the file is fetched and handed to the browser as a Blob --- */

  $('#export').addEventListener('click', async () => {
    const id = eventId;
    const status = $('#export-status');
    status.textContent = '正在导出…';
    let res, blob;
    try {
      res = await fetch('/api/v1/events/' + id + '/export.csv', {
        headers: { Authorization: 'Bearer ' + session.token },
        cache: 'no-store',
        credentials: 'omit',
      });
      blob = res.ok ? await res.blob() : null;
    } catch (e) {
      status.textContent = '无法连接服务器，请稍后重试。';
      return;
    }
    if (res.status === 401) return expired();
    if (!blob) {
      status.textContent = res.status === 403 ? '只有行长/经理可以导出名单。' : '导出失败（' + res.status + '）。';
      return;
    }
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: 'event-' + id + '-guests.csv' });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    status.textContent = '已导出（姓名和手机号已隐去部分）。';
  });

  async function loadRoster() {
    const id = eventId;
    let r;
    try {
      r = await K.api('GET', '/api/v1/events/' + id + '/roster', undefined, { token: session.token });
    } catch (e) {
      return;
    }
    if (r.status === 401) return expired();
    if (id !== eventId || !r.ok) return;
    for (const g of r.data.guests || []) {
      if (g.checked_in && g.checked_in_at) checkins.set(g.checkin_id || 's' + g.signup_id, Date.parse(g.checked_in_at));
    }
    drawTimeline();
  }

  function onMessage(msg) {
    if (msg.event_id !== eventId) return;
    if (msg.counts && stats) {
      Object.assign(stats, {
        signed_up: msg.counts.signed_up,
        waitlisted: msg.counts.waitlisted,
        checked_in: msg.counts.checked_in,
        walk_ins: msg.counts.walk_ins,
        capacity: msg.counts.capacity,
      });
      drawFunnel();
      drawSummary();
    }
    if ((msg.type === 'checkin' || msg.type === 'walkin') && msg.at) {
      checkins.set(msg.checkin_id, Date.parse(msg.at));
      drawTimeline();
    } else if (msg.type === 'undo') {
      checkins.delete(msg.checkin_id);
      drawTimeline();
    }
    /* no-shows and the rest come from the stats call; refresh it now and then */
    clearTimeout(statsTimer);
    statsTimer = setTimeout(loadStats, 2000);
  }

  /* --- the funnel: horizontal bars --- */

  function drawFunnel() {
    if (!stats) return;
    const st = stats;
    const rows = [
      ['名额', st.capacity, '#8a939e'],
      ['已报名', st.signed_up, '#0a4a9e'],
      ['候补', st.waitlisted, '#b07800'],
      ['已签到', st.checked_in, '#0d6e33'],
      ['其中现场登记', st.walk_ins, '#3f8f5a'],
      ['未到场', st.over ? st.no_shows : null, '#b3121a'],
      ['升级登记', st.upgrades_registered, '#6a3fa0'],
      ['行长批准', st.upgrades_approved, '#8a4b00'],
    ];
    const max = Math.max(1, ...rows.map((r) => r[1] || 0));
    const W = 600;
    const rowH = 46;
    const labelW = 150;
    const barW = W - labelW - 70;
    const svg = s('svg', { viewBox: '0 0 ' + W + ' ' + (rows.length * rowH + 10), role: 'img', 'aria-labelledby': 'funnel-svg-title' },
      s('title', { id: 'funnel-svg-title' }, '报名到签到：' + rows.map((r) => r[0] + ' ' + (r[1] === null ? '未结束' : r[1])).join('，')));
    rows.forEach(([label, value, color], i) => {
      const y = 5 + i * rowH;
      svg.append(s('text', { x: labelW - 10, y: y + rowH / 2 + 7, 'text-anchor': 'end', 'font-size': 20, fill: '#111' }, label));
      svg.append(s('rect', { x: labelW, y: y + 8, width: barW, height: rowH - 16, fill: '#eef1f5', rx: 4 }));
      if (value) {
        svg.append(s('rect', { x: labelW, y: y + 8, width: Math.max(3, (barW * value) / max), height: rowH - 16, fill: color, rx: 4 }));
      }
      svg.append(s('text', { x: labelW + barW + 10, y: y + rowH / 2 + 7, 'font-size': 20, 'font-weight': 700, fill: '#111' },
        value === null ? '—' : String(value)));
    });
    $('#funnel').replaceChildren(svg);
    $('#funnel-note').textContent = st.over ? '' : '“未到场”在活动结束后统计。';
  }

  /* --- check-ins over time: bars per time slot, and the running total --- */

  function drawTimeline() {
    const times = Array.from(checkins.values()).filter(Number.isFinite).sort((a, b) => a - b);
    const box = $('#timeline');
    if (!times.length) {
      box.replaceChildren(h('p', { class: 'hint', text: '暂无签到记录。' }));
      $('#timeline-note').textContent = '';
      return;
    }
    const MIN = 60000;
    /* the axis spans the check-in window: from half an hour before the start
     * (or the first check-in) to now or the end (or the last check-in), an hour at least */
    const ev = events.find((e) => e.id === eventId);
    const startMs = ev ? Date.parse(ev.starts_at) : NaN;
    const endMs = ev ? Date.parse(ev.ends_at) : NaN;
    let lo = Math.min(times[0], Number.isFinite(startMs) ? startMs - 30 * MIN : Infinity);
    let hi = Math.max(times[times.length - 1], Number.isFinite(endMs) ? Math.min(Date.now(), endMs) : -Infinity);
    if (hi - lo < 60 * MIN) hi = lo + 60 * MIN;
    const step = [5, 10, 15, 30, 60, 120].map((m) => m * MIN).find((st) => (hi - lo) / st <= 16) || 240 * MIN;
    /* slots start on round China-time minutes (China is UTC+8, whole hours) */
    const first = Math.floor(lo / step) * step;
    const n = Math.max(1, Math.ceil((hi - first) / step));
    const counts = new Array(n).fill(0);
    for (const t of times) counts[Math.min(n - 1, Math.floor((t - first) / step))]++;
    const maxCount = Math.max(...counts);
    const total = times.length;

    const W = 600;
    const H = 300;
    const L = 44;
    const R = 44;
    const T = 16;
    const B = 46;
    const plotW = W - L - R;
    const plotH = H - T - B;
    const bw = plotW / n;
    const svg = s('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', 'aria-labelledby': 'time-svg-title' },
      s('title', { id: 'time-svg-title' }, '签到时间分布：共 ' + total + ' 人，每 ' + step / MIN + ' 分钟一格'));
    /* axes */
    svg.append(s('line', { x1: L, y1: T + plotH, x2: L + plotW, y2: T + plotH, stroke: '#111', 'stroke-width': 2 }));
    svg.append(s('text', { x: L - 8, y: T + 12, 'text-anchor': 'end', 'font-size': 16, fill: '#0d6e33' }, String(maxCount)));
    svg.append(s('text', { x: L - 8, y: T + plotH, 'text-anchor': 'end', 'font-size': 16, fill: '#111' }, '0'));
    svg.append(s('text', { x: L + plotW + 8, y: T + 12, 'font-size': 16, fill: '#0a4a9e' }, String(total)));
    /* bars */
    const labelEvery = Math.ceil(n / 6);
    counts.forEach((c, i) => {
      const x = L + i * bw;
      const bh = (plotH * c) / maxCount;
      if (c) svg.append(s('rect', { x: x + bw * 0.12, y: T + plotH - bh, width: bw * 0.76, height: bh, fill: '#0d6e33' },
        s('title', {}, K.hm(first + i * step) + ' 起 ' + c + ' 人')));
      if (i % labelEvery === 0) {
        svg.append(s('text', { x: x + bw / 2, y: T + plotH + 26, 'text-anchor': 'middle', 'font-size': 16, fill: '#111' }, K.hm(first + i * step)));
      }
    });
    /* running total */
    let run = 0;
    const pts = [[L, T + plotH]];
    const until = Math.max(times[times.length - 1], Math.min(Date.now(), hi)); /* not into the future */
    counts.forEach((c, i) => {
      run += c;
      if (first + i * step <= until) pts.push([L + Math.min(i + 1, (until - first) / step) * bw, T + plotH - (plotH * run) / total]);
    });
    svg.append(s('polyline', { points: pts.map((p) => p[0].toFixed(1) + ',' + p[1].toFixed(1)).join(' '), fill: 'none', stroke: '#0a4a9e', 'stroke-width': 3 }));
    /* the event's start, when it falls inside */
    if (startMs >= first && startMs <= first + n * step) {
      const x = L + ((startMs - first) / step) * bw;
      svg.append(s('line', { x1: x, y1: T, x2: x, y2: T + plotH, stroke: '#a3121b', 'stroke-width': 2, 'stroke-dasharray': '6 4' }));
      svg.append(s('text', { x: x + 4, y: T + 14, 'font-size': 14, fill: '#a3121b' }, '开场'));
    }
    const table = h('table', { class: 'chart-table' },
      h('caption', { class: 'visually-hidden', text: '每个时段的签到人数' }),
      h('thead', null, h('tr', null, h('th', { scope: 'col', text: '时段' }), h('th', { scope: 'col', text: '签到' }), h('th', { scope: 'col', text: '累计' }))),
      h('tbody', null, (() => {
        let acc = 0;
        return counts.map((c, i) => {
          acc += c;
          return c ? h('tr', null, h('th', { scope: 'row', text: K.hm(first + i * step) + '–' + K.hm(first + (i + 1) * step) }), h('td', { text: c }), h('td', { text: acc })) : null;
        });
      })()));
    box.replaceChildren(svg, table);
    $('#timeline-note').textContent = '绿色柱：每 ' + step / MIN + ' 分钟签到人数（左侧刻度）；蓝线：累计人数（右侧刻度）。共 ' + total + ' 人。';
  }

  /* --- the upgrade funnel over months and events (managers) --- */

  const STAGES = [
    ['invited', '邀约', '#8a939e'],
    ['signed_up', '报名', '#0a4a9e'],
    ['checked_in', '签到', '#0d6e33'],
    ['registered', '升级登记', '#6a3fa0'],
    ['approved', '批准', '#8a4b00'],
    ['arrived', '资产到账', '#a3121b'],
  ];

  /* a count of a funnel row, whether flat or under "counts"; null when absent */
  function stage(row, key) {
    const v = row[key] !== undefined ? row[key] : row.counts ? row.counts[key] : undefined;
    return Number.isFinite(v) ? v : null;
  }

  const p2 = (n) => String(n).padStart(2, '0');

  /* [from, to] as China dates: the first day of the month `back` months ago, and the last day of this month */
  function funnelRange(back) {
    const t = K.cn(Date.now());
    let y = t.y;
    let m = t.mo - back;
    while (m < 1) {
      m += 12;
      y--;
    }
    const last = new Date(Date.UTC(t.y, t.mo, 0)).getUTCDate();
    return { from: y + '-' + p2(m) + '-01', to: t.y + '-' + p2(t.mo) + '-' + p2(last) };
  }

  async function loadFunnel() {
    const back = parseInt($('#upfunnel-range').value, 10) || 0;
    const { from, to } = funnelRange(back);
    const note = $('#upfunnel-note');
    note.textContent = '正在读取……';
    let r;
    try {
      r = await K.api('GET', '/api/v1/funnel?from=' + from + '&to=' + to, undefined, { token: session.token });
    } catch (e) {
      note.textContent = '无法连接服务器，漏斗暂时无法显示。';
      return;
    }
    if (r.status === 401) return expired();
    if (!r.ok || !r.data) {
      note.textContent = r.status === 403 ? '只有行长/经理可以查看升级漏斗。' : '升级漏斗暂时无法读取，请稍后再试。';
      $('#upfunnel-chart').replaceChildren();
      $('#upfunnel-months').hidden = true;
      $('#upfunnel-events').hidden = true;
      return;
    }
    const months = r.data.months || r.data.by_month || [];
    const evs = r.data.events || r.data.by_event || [];
    const cells = (row) => STAGES.map(([k]) => {
      const v = stage(row, k);
      return h('td', { text: v === null ? '—' : v });
    });
    $('#upfunnel-months tbody').replaceChildren(...months.map((m) => {
      const [y, mo] = String(m.month || '').split('-');
      return h('tr', null, h('th', { scope: 'row', text: y && mo ? y + '年' + parseInt(mo, 10) + '月' : m.month }), ...cells(m));
    }));
    $('#upfunnel-events tbody').replaceChildren(...evs.map((ev) =>
      h('tr', null, h('th', { scope: 'row', class: 'ev-name' },
        h('span', { class: 'ev-date', text: ev.starts_at ? K.ymdhm(ev.starts_at).slice(0, 10) + ' ' : '' }), ev.title || '活动 #' + (ev.id || ev.event_id)),
      ...cells(ev))));
    $('#upfunnel-months').hidden = !months.length;
    $('#upfunnel-events').hidden = !evs.length;
    drawUpFunnel(r.data.total || null, months, from, to);
    note.textContent = from + ' 至 ' + to + (evs.length ? '，共 ' + evs.length + ' 场活动。' : '：这段时间没有活动。') +
      ' 括号内为占上一步的比例。';
  }

  /* The totals of the range (the answer's "total", else the months added up)
   * as bars, each with its share of the step before. */
  function drawUpFunnel(total, months, from, to) {
    const totals = STAGES.map(([k, label, color]) => {
      if (total) return [label, stage(total, k), color];
      const vals = months.map((m) => stage(m, k)).filter((v) => v !== null);
      return [label, vals.length ? vals.reduce((a, b) => a + b, 0) : null, color];
    });
    const max = Math.max(1, ...totals.map((t) => t[1] || 0));
    const W = 600;
    const rowH = 46;
    const labelW = 120;
    const barW = W - labelW - 150;
    const svg = s('svg', { viewBox: '0 0 ' + W + ' ' + (totals.length * rowH + 10), role: 'img', 'aria-labelledby': 'upfunnel-svg-title' },
      s('title', { id: 'upfunnel-svg-title' }, '升级漏斗 ' + from + ' 至 ' + to + '：' +
        totals.map((t) => t[0] + ' ' + (t[1] === null ? '无数据' : t[1])).join('，')));
    let prev = null;
    totals.forEach(([label, value, color], i) => {
      const y = 5 + i * rowH;
      svg.append(s('text', { x: labelW - 10, y: y + rowH / 2 + 7, 'text-anchor': 'end', 'font-size': 20, fill: '#111' }, label));
      svg.append(s('rect', { x: labelW, y: y + 8, width: barW, height: rowH - 16, fill: '#eef1f5', rx: 4 }));
      if (value) svg.append(s('rect', { x: labelW, y: y + 8, width: Math.max(3, (barW * value) / max), height: rowH - 16, fill: color, rx: 4 }));
      /* a month also counts upgrades registered outside events: no share over 100% */
      const share = value !== null && prev && value <= prev ? '（' + Math.round((value * 100) / prev) + '%）' : '';
      svg.append(s('text', { x: labelW + barW + 10, y: y + rowH / 2 + 7, 'font-size': 20, 'font-weight': 700, fill: '#111' },
        (value === null ? '—' : String(value)) + share));
      if (value !== null) prev = value;
    });
    $('#upfunnel-chart').replaceChildren(svg);
  }

  /* --- 群聊指令: commands per chat group and day (managers), the last 30 days --- */

  async function loadBotStats() {
    const card = $('#botstats-card');
    let r;
    try {
      r = await K.api('GET', '/api/v1/bot/stats', undefined, { token: session.token });
    } catch (e) {
      card.hidden = true;
      return;
    }
    if (r.status === 401) return expired();
    const groups = (r.ok && r.data && Array.isArray(r.data.groups)) ? r.data.groups : [];
    card.hidden = !groups.length;
    if (!groups.length) return;
    /* one row per day with commands (newest first), one column per group; ids are text only */
    const days = [...new Set(groups.flatMap((g) => (g.days || []).map((d) => d.day)))].sort().reverse();
    const count = groups.map((g) => new Map((g.days || []).map((d) => [d.day, d.commands])));
    const dayLabel = (day) => {
      const [, mo, dd] = String(day).split('-');
      return mo && dd ? parseInt(mo, 10) + '月' + parseInt(dd, 10) + '日' : String(day);
    };
    $('#botstats thead tr').replaceChildren(h('th', { scope: 'col', text: '日期' }),
      ...groups.map((g) => h('th', { scope: 'col', class: 'group-id', text: String(g.group) })),
      h('th', { scope: 'col', text: '合计' }));
    $('#botstats tbody').replaceChildren(...days.map((day) => {
      const cells = count.map((m) => m.get(day) || 0);
      return h('tr', null, h('th', { scope: 'row', text: dayLabel(day) }),
        ...cells.map((n) => h('td', { text: n ? String(n) : '—' })),
        h('td', { text: String(cells.reduce((a, b) => a + b, 0)) }));
    }));
    const totals = groups.map((g) => Number(g.total) || 0);
    $('#botstats tfoot tr').replaceChildren(h('th', { scope: 'row', text: '合计' }),
      ...totals.map((n) => h('td', { text: String(n) })),
      h('td', { text: String(totals.reduce((a, b) => a + b, 0)) }));
    $('#botstats-note').textContent = r.data.from + ' 至 ' + r.data.to + '，' + groups.length +
      ' 个群共 ' + totals.reduce((a, b) => a + b, 0) + ' 条指令（积分、活动、报名等）。';
  }

  /* --- 消息: today's messages by channel, and the failed ones (managers) --- */

  const CHANNELS = { sms: '短信', wechat: '微信模板消息', wecom: '企业微信群', log: '日志（演示）' };
  const KINDS = {
    confirmation: '报名确认', day_before: '前一天提醒', two_hours: '两小时前提醒',
    thank_you: '感谢到场', no_show: '未到场回访', birthday: '生日祝福', maturity: '到期提醒',
    points: '积分变动', staff_summary: '活动小结', ticket_link: '入场券链接',
    invitation: '活动邀约', festival: '节日问候',
  };

  async function loadMessages() {
    const card = $('#msgs-card');
    let r;
    try {
      r = await K.api('GET', '/api/v1/messages?status=failed', undefined, { token: session.token });
    } catch (e) {
      card.hidden = true;
      return;
    }
    if (r.status === 401) return expired();
    if (!r.ok || !r.data) {
      card.hidden = true;
      return;
    }
    const today = Array.isArray(r.data.today) ? r.data.today : [];
    const failed = Array.isArray(r.data.messages) ? r.data.messages : [];
    card.hidden = !today.length && !failed.length;
    $('#msgs tbody').replaceChildren(...today.map((t) => h('tr', null,
      h('th', { scope: 'row', text: CHANNELS[t.channel] || String(t.channel) }),
      h('td', { text: String(t.due) }), h('td', { text: String(t.sent) }),
      h('td', { text: String(t.failed), class: t.failed ? 'bad' : '' }))));
    const c = r.data.counts || {};
    $('#msgs-note').textContent = '排队 ' + (c.queued || 0) + ' 条，累计已发 ' + (c.sent || 0) +
      ' 条，失败 ' + (c.failed || 0) + ' 条（安静时段和每日上限的消息在排队中等待）。';
    $('#msgs-failed-title').hidden = !failed.length;
    $('#msgs-failed').replaceChildren(...failed.slice(0, 10).map((m) => {
      const retry = h('button', { type: 'button', class: 'btn retry', text: '重新发送' });
      let armed = false;
      retry.addEventListener('click', async () => {
        if (!armed) { /* two taps: the first asks */
          armed = true;
          retry.textContent = '确认重新发送？';
          return;
        }
        retry.disabled = true;
        const a = await K.api('POST', '/api/v1/messages/' + m.id + '/retry', {}, { token: session.token });
        if (a.status === 401) return expired();
        retry.textContent = a.ok ? '已重新排队' : '未能重新发送';
        if (a.ok) setTimeout(loadMessages, 1500);
      });
      const who = m.phone_last4 ? '尾号 ' + m.phone_last4 : (m.member_no ? '会员 ' + m.member_no : '');
      return h('li', null,
        h('span', { text: (KINDS[m.kind] || String(m.kind)) + ' · ' + (CHANNELS[m.channel] || String(m.channel)) +
          (who ? ' · ' + who : '') + (m.last_error ? '（' + m.last_error + '）' : '') }),
        retry);
    }));
  }

  const STEP_CHANNELS = { sms: '短信', call: '电话', wechat: '微信' };

  function rate(signed, reached) {
    return reached ? Math.round((signed * 1000) / reached) / 10 + '%' : '—';
  }

  /* each campaign's results (GET /api/v1/campaigns), a row per step under it */
  async function loadCampaigns() {
    const card = $('#camps-card');
    let r;
    try {
      r = await K.api('GET', '/api/v1/campaigns', undefined, { token: session.token });
    } catch (e) {
      card.hidden = true;
      return;
    }
    if (r.status === 401) return expired();
    const list = r.ok && r.data && Array.isArray(r.data.campaigns) ? r.data.campaigns : [];
    card.hidden = !list.length;
    const cell = (v) => h('td', { text: v === undefined ? '—' : String(v) });
    const rows = [];
    for (const c of list) {
      const x = c.results || {};
      const steps = Array.isArray(c.steps) ? c.steps : [];
      const by = Array.isArray(c.by_step) ? c.by_step : [];
      const ch = {};
      steps.forEach((st, i) => {
        const t = ch[st.channel] || (ch[st.channel] = { reached: 0, signed: 0 });
        t.reached += st.reached || 0;
        t.signed += (by[i] && by[i].signed_up) || 0;
      });
      const conv = Object.entries(ch).map(([k, t]) => (STEP_CHANNELS[k] || k) + ' ' + rate(t.signed, t.reached)).join(' · ');
      rows.push(h('tr', { class: 'camp', 'data-campaign': String(c.id) },
        h('th', { scope: 'row', text: c.name + '（' + c.code + '）' }),
        cell(x.invited), cell(x.reached), cell(x.signed_up), cell(x.checked_in), cell(x.registered),
        cell(x.approved), h('td', { class: 'camp-conv', text: conv || '—' })));
      steps.forEach((st, i) => {
        const signed = (by[i] && by[i].signed_up) || 0;
        rows.push(h('tr', { class: 'camp-step', 'data-campaign': String(c.id) },
          h('th', { scope: 'row', text: '　' + (STEP_CHANNELS[st.channel] || st.channel) + ' ' + st.at }),
          cell(), cell(st.reached), cell(signed), cell(), cell(), cell(),
          h('td', { text: rate(signed, st.reached || 0) })));
      });
    }
    $('#camps tbody').replaceChildren(...rows);
  }

  $('#upfunnel-range').addEventListener('change', loadFunnel);

  $('#event-select').addEventListener('change', (e) => select(parseInt(e.target.value, 10)));

  const saved = K.session();
  if (saved) start(saved);
  else showLogin('');
})();
