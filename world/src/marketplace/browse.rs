//! Browsing: catalogue pages, and the manifests, previews and models
//! the panels show, each asked for once.

use plaza_client::protocol::MAX_PAGE_HITS;

use assets::ContentId;
use bevy::prelude::*;
use ledger::AssetId;
use plaza_client::client::Session;
use plaza_client::protocol::{Browse, ClientMessage};

use super::{Asked, MANIFESTS_KEPT, Marketplace};

impl Marketplace {
    /// Searches the catalogue from its first page.
    pub fn search(&mut self, client: &mut Session<'_>, mut query: Browse) {
        query.after = None;
        query.page_size = query.page_size.clamp(1, MAX_PAGE_HITS);
        self.catalogue.query = query;
        self.catalogue.back.clear();
        self.catalogue.this = None;
        self.catalogue.page = 1;
        self.request_page(client);
    }

    /// The next page, if there is one.
    pub fn next_page(&mut self, client: &mut Session<'_>) {
        if self.catalogue.waiting {
            return;
        }
        let Some(next) = self.catalogue.next.clone() else {
            return;
        };
        let this = self.catalogue.this.replace(next);
        self.catalogue.back.push(this);
        self.catalogue.page += 1;
        self.request_page(client);
    }

    /// The page before, if there is one.
    pub fn previous_page(&mut self, client: &mut Session<'_>) {
        if self.catalogue.waiting {
            return;
        }
        let Some(before) = self.catalogue.back.pop() else {
            return;
        };
        self.catalogue.this = before;
        self.catalogue.page = self.catalogue.page.saturating_sub(1).max(1);
        self.request_page(client);
    }

    pub(super) fn request_page(&mut self, client: &mut Session<'_>) {
        let mut query = self.catalogue.query.clone();
        query.after = self.catalogue.this.clone();
        self.catalogue.waiting = true;
        self.catalogue.error = None;
        let id = client.ask(|request| ClientMessage::Browse { request, query });
        self.asked.insert(id, Asked::Page);
        self.catalogue.asked = Some(id);
    }

    /// Fetches an asset's manifest for its card, unless it is known or
    /// already asked for.
    pub fn want_manifest(&mut self, client: &mut Session<'_>, asset: AssetId) {
        let why = Asked::Manifest(asset);
        if self.manifests.contains_key(&asset)
            || self.missing.contains(&asset.0)
            || Self::backed_up(client)
            || self.waiting_for(&why)
        {
            return;
        }
        let id = asset.0.to_bytes();
        self.ask(client, why, |request| ClientMessage::Fetch { request, id });
    }

    /// Fetches a preview picture, unless it is known or already asked for.
    pub fn want_preview(&mut self, client: &mut Session<'_>, preview: ContentId) {
        let why = Asked::Preview(preview);
        if self.previews.contains_key(&preview)
            || self.missing.contains(&preview)
            || Self::backed_up(client)
            || self.waiting_for(&why)
        {
            return;
        }
        let id = preview.to_bytes();
        self.ask(client, why, |request| ClientMessage::Fetch { request, id });
    }

    /// The cache's file name of `model` once it is there; until then it is
    /// fetched (once) and `None`.
    pub fn model_file(&mut self, client: &mut Session<'_>, model: &ContentId) -> Option<String> {
        let cache = self.cache.as_ref()?;
        let file = format!("{model}.glb");
        if cache.join(&file).exists() {
            return Some(file);
        }
        let why = Asked::Model(*model);
        if !self.missing.contains(model) && !Self::backed_up(client) && !self.waiting_for(&why) {
            let id = model.to_bytes();
            self.ask(client, why, |request| ClientMessage::Fetch { request, id });
        }
        None
    }

    pub(super) fn miss(&mut self, id: ContentId) {
        if self.missing.len() >= MANIFESTS_KEPT {
            self.missing.clear();
        }
        self.missing.insert(id);
    }

    /// An asset's name, from its manifest once fetched, else the end of
    /// its id.
    pub fn asset_name(&self, asset: &AssetId) -> String {
        self.manifests
            .get(asset)
            .map(|manifest| manifest.name.clone())
            .unwrap_or_else(|| {
                let id = asset.to_string();
                format!("asset ..{}", &id[id.len().saturating_sub(8)..])
            })
    }
}
