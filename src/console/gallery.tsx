import type { Context } from 'hono';
import { formatUsd } from '../domain/money';
import type { AppEnv } from '../env';
import { imageLinkPath, linkSecret } from '../services/image-links';
import { imageFacts, recentImages } from '../storage/overview';
import { Empty, when } from './components';

/**
 * A tenant's recent generations as thumbnails (docs/console.md). Each image is shown through a
 * signed link (docs/generation.md, "Image links"), so the browser needs no tenant key; without
 * IMAGE_URL_SECRET there is no such link, and the gallery says so instead of showing broken images.
 */

export const GALLERY_SIZE = 12;

const CACHE_WORD: Record<string, string> = { hit: 'cache hit', coalesced: 'merged', miss: 'generated', bypass: 'generated, no seed' };

export async function Gallery(props: { c: Context<AppEnv>; tenantId: string }) {
  const { c } = props;
  const now = c.var.deps.now();
  const images = await recentImages(c.env.DB, props.tenantId, GALLERY_SIZE);
  if (images.length === 0) return <Empty>No images yet — generate one with one of this tenant's keys, and it shows here.</Empty>;
  const signed = linkSecret(c.env) !== null;
  const items = await Promise.all(
    images.map(async (g) => ({ g, facts: await imageFacts(c.env.IMAGES, g.imageKey), src: signed ? await imageLinkPath(c.env, g.imageId, now) : null })),
  );
  return (
    <>
      {signed ? null : (
        <p class="notice">Thumbnails need IMAGE_URL_SECRET: without it image links are unsigned and need the tenant's key, so only the details are shown.</p>
      )}
      <ul class="gallery">
        {items.map(({ g, facts, src }) => {
          const prompt = facts.prompt ?? 'prompt not recorded';
          return (
            <li>
              <figure>
                {src ? (
                  <img src={src} alt={`Generated image: ${prompt}`} width={170} height={170} loading="lazy" />
                ) : (
                  <div class="noimg">no signed link</div>
                )}
                <figcaption>
                  <span class="prompt">{prompt}</span>
                  <span class="meta">
                    seed {facts.seed ?? '?'} · {g.width}×{g.height} · {g.steps} steps
                  </span>
                  <span class="meta">
                    {formatUsd(g.costNano)} USD · {CACHE_WORD[g.cache] ?? g.cache}
                  </span>
                  <span class="meta">{when(g.createdAt)}</span>
                </figcaption>
              </figure>
            </li>
          );
        })}
      </ul>
    </>
  );
}
