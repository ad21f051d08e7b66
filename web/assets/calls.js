/*
 * The staff tablet's call list (/staff, 电话邀约): the invitees of a campaign
 * who have not signed up, masked, in the order to call them (tier, then how
 * little each lacks for the next tier). The full number only on demand, one
 * at a time (every reveal is recorded on the server), hidden again after 30
 * seconds; the outcome of each call in two taps; an appointment books the
 * guest. staff.js owns the session and calls KCalls.init().
 */
'use strict';

(function () {
  const { $, h } = K;
  const KCalls = {};
  window.KCalls = KCalls;

  const OUTCOMES = [
    ['reached', '已接通'],
    ['no_answer', '未接听'],
    ['declined', '婉拒'],
    ['appointment', '预约到场'],
    ['wrong_number', '号码错误'],
  ];
  const LABEL = Object.fromEntries(OUTCOMES);
  const REVEAL_MS = 30000;

  KCalls.init = function (ctx) {
    let campaign = null;
    const timers = new Set();

    function status(t) {
      $('#calls-status').textContent = t || '';
    }

    async function call(method, path, body) {
      const s = ctx.session();
      if (!s) return null;
      let r;
      try {
        r = await K.api(method, path, body, { token: s.token });
      } catch (e) {
        status('无法连接服务器，请稍后再试。');
        return null;
      }
      if (r.status === 401) {
        ctx.expired();
        return null;
      }
      return r;
    }

    function clear() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      $('#calls').replaceChildren();
      $('#calls').hidden = true;
    }

    async function reveal(c, phone, button, masked) {
      if (button.hideNow) return button.hideNow();
      button.disabled = true;
      const r = await call('POST', '/api/v1/campaigns/' + campaign + '/calls/' + encodeURIComponent(c.member_no) + '/reveal', {});
      button.disabled = false;
      if (!r) return;
      if (!r.ok || !r.data || !r.data.phone) {
        status(r.status === 404 ? c.name + ' 已不在名单中（可能已报名），名单已刷新。' : '暂时无法显示号码（' + r.status + '）。');
        if (r.status === 404) load();
        return;
      }
      phone.textContent = r.data.phone;
      phone.classList.add('revealed');
      button.textContent = '隐藏';
      const hide = () => {
        clearTimeout(timer);
        timers.delete(timer);
        phone.textContent = masked;
        phone.classList.remove('revealed');
        button.textContent = '显示号码';
        button.hideNow = null;
      };
      const timer = setTimeout(hide, REVEAL_MS);
      timers.add(timer);
      button.hideNow = hide;
    }

    async function record(c, outcome, li) {
      for (const b of li.querySelectorAll('button')) b.disabled = true;
      const r = await call('POST', '/api/v1/campaigns/' + campaign + '/calls/' + encodeURIComponent(c.member_no), { outcome });
      for (const b of li.querySelectorAll('button')) b.disabled = false;
      if (!r) return;
      if (!r.ok) {
        const code = r.data && r.data.error && r.data.error.code;
        status(code === 'event_over' ? '活动已结束，不能再预约。'
          : code === 'already_signed_up' ? '这个手机号已用其他姓名报名，请在“查找客人”里核对。'
            : '暂时无法记录（' + r.status + '）。');
        return;
      }
      status(outcome === 'appointment' ? c.name + ' 已预约到场，已为客户报名。' : c.name + '：已记录“' + LABEL[outcome] + '”。');
      load();
    }

    function row(c) {
      const masked = '*******' + c.phone_last4;
      const phone = h('span', { class: 'wl-phone', text: masked });
      const button = h('button', { type: 'button', class: 'reveal', 'aria-label': '显示 ' + c.name + ' 的手机号码' }, '显示号码');
      const li = h('li', { 'data-member': c.member_no },
        h('span', { class: 'wl-name', text: c.name }),
        h('span', { class: 'call-tier', text: c.tier }),
        phone, button,
        h('span', { class: 'call-outcome', text: c.outcome ? '上次：' + LABEL[c.outcome] : '' }),
        h('span', { class: 'call-actions' }, OUTCOMES.map(([k, t]) =>
          h('button', { type: 'button', 'data-outcome': k, onclick: () => record(c, k, li) }, t))));
      button.addEventListener('click', () => reveal(c, phone, button, masked));
      return li;
    }

    async function load() {
      if (!campaign) return;
      const id = campaign;
      const r = await call('GET', '/api/v1/campaigns/' + id + '/calls');
      if (!r || id !== campaign) return;
      if (!r.ok || !r.data || !Array.isArray(r.data.calls)) {
        clear();
        status(r.status === 404 ? '没有这个邀约编号，请核对。' : '名单暂时无法显示（' + r.status + '）。');
        return;
      }
      clear();
      const list = r.data.calls;
      $('#calls').replaceChildren(...list.map(row));
      $('#calls').hidden = list.length === 0;
      if (!r.data.due) status('还没到这次邀约的电话时间。');
      else if (!list.length) status('名单上的客户都已报名。');
      else if (!$('#calls-status').textContent) status('共 ' + list.length + ' 位客户待联系。');
    }

    $('#calls-form').addEventListener('submit', (e) => {
      e.preventDefault();
      const v = $('#calls-id').value.trim();
      if (!/^[1-9][0-9]{0,8}$/.test(v)) {
        status('请输入邀约编号（数字）。');
        return;
      }
      campaign = v;
      status('');
      load();
    });

    return {
      /* nothing of a customer stays for whoever logs in next */
      stop() {
        clear();
        campaign = null;
        status('');
      },
    };
  };
})();
