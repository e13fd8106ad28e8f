// Two fixes to BokehJS as the dashboard uses it (jupyter_bokeh widgets redrawn from the kernel),
// run once in the page right after BokehJS has loaded (explorer.app.bokeh_view.install_bokeh_fixes).
// Each one checks that the BokehJS internals it changes are there and otherwise leaves BokehJS as
// it is: the page is then slower, never broken. Measured effect: README, "Benchmarks".
//
// 1. No echo. jupyter_bokeh 4.1's widget view forwards every change of its Bokeh document to the
//    kernel, including the changes the kernel has just sent: it applies a kernel patch with
//    apply_json_patch, holds the document events that raises and sends them all back afterwards,
//    without looking at event.sync, the flag BokehJS sets to false on changes that must not go
//    back to the server (bokeh PR #13406; Bokeh's own server session honours it). Each slider
//    move then sent every redrawn source back (~100 kB, base64 + gzip on the page's main thread,
//    decoded and re-applied by the kernel). Such events are dropped at the document's one
//    dispatch point, Document._trigger_on_change; changes made in the browser (pan, zoom,
//    selection, a legend click, a layout) keep sync = true and still reach the kernel.
//
// 2. Legends keep their items. BokehJS 3.9's LegendView rebuilds its whole DOM (a new canvas per
//    entry) whenever anything its items reference changes, recursively, which includes the data
//    source of every renderer in the legend: every redraw of a plot rebuilt its legend and its
//    resize observer then made the plot lay itself out anew (tick labels measured again). When
//    the items and labels are the ones on show, only the entries' shown/hidden and active states
//    are updated; a new item or label still rebuilds the legend.
(function install(tries) {
  "use strict";
  var B = window.Bokeh;
  if (!B || typeof B.require !== "function") {
    if (tries > 0) { setTimeout(function () { install(tries - 1); }, 50); }
    return;
  }
  function module(name) {
    try { return B.require(name); } catch (e) { return null; }
  }

  var doc = module("document/document");
  var events = module("document/events");
  var Document = doc && doc.Document;
  var Batch = events && events.DocumentEventBatch;
  if (Document && Batch && typeof Document.prototype._trigger_on_change === "function" &&
      !Document.prototype._irox_no_echo) {
    var dispatch = Document.prototype._trigger_on_change;
    Document.prototype._trigger_on_change = function (event) {
      if (event.sync === false) { return; }
      if (event instanceof Batch) {
        var kept = event.events.filter(function (e) { return e.sync !== false; });
        if (kept.length === 0) { return; }
        if (kept.length !== event.events.length) { event = new Batch(this, kept); }
      }
      return dispatch.call(this, event);
    };
    Document.prototype._irox_no_echo = true;
  }

  var legend = module("models/annotations/legend");
  var css = module("styles/legend.css") || {};
  var View = legend && legend.LegendView;
  var proto = View && View.prototype;
  if (proto && typeof proto._render_items === "function" && typeof proto._toggle_inactive === "function" &&
      Object.getOwnPropertyDescriptor(proto, "_should_rerender_items") && !proto._irox_keep_items) {
    var render_items = proto._render_items;
    var hidden = css.hidden || "bk-hidden";
    proto._render_items = function () {
      if (this.entries.length === 0 || this._should_rerender_items) {
        return render_items.call(this);
      }
      for (var k = 0; k < this.entries.length; k++) {
        var entry = this.entries[k];
        entry.el.classList.toggle(hidden, !entry.item.visible);
        this._toggle_inactive(entry);
      }
    };
    proto._irox_keep_items = true;
  }
})(200);
